"""`readloom questions` over many passages in one process: files, ids and a JSONL, results
in input order one JSON object a line, and a one-line reason when nothing comes out."""

from __future__ import annotations

import json

from click.testing import CliRunner

from readloom.cli import main

STORY = (
    "Mia found a red kite in the garden behind her house. She carried the kite to the top of "
    "the hill because the wind was strong there. The wind lifted the kite high above the tall "
    "trees. Mia was happy when the kite danced in the sky. Later, the string broke and the kite "
    "flew away over the river. Mia felt sad, so her brother Leo made her a new kite from paper."
)
FACTS = (
    "Honey bees live together in a hive. Worker bees collect nectar from flowers because the "
    "hive needs food for the winter. The bees turn the nectar into honey. In the spring, the "
    "queen lays many eggs. Young bees clean the hive and feed the larvae. Bees dance to tell "
    "other bees where the flowers are."
)


def test_jsonl_batch_in_input_order(tmp_path):
    src = tmp_path / "passages.jsonl"
    lines = [
        {"id": "a", "title": "Mia's Kite", "text": STORY, "grade": 4},
        {"id": "b", "title": "Too short", "text": "Bees make honey in a hive all summer long."},
        {"id": "c", "title": "Honey Bees", "text": FACTS, "grade": 3},
    ]
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    res = CliRunner().invoke(
        main, ["questions", "--jsonl", str(src), "--count", "4", "--format", "json", "--choices"]
    )
    out = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [o["id"] for o in out] == ["a", "b", "c"]
    assert len(out[0]["questions"]) == 4 and len(out[2]["questions"]) >= 3
    assert out[1]["questions"] == [] and "too short" in out[1]["error"]
    assert all(q["level"] in ("literal", "inference") for q in out[0]["questions"])
    assert any(len(q["choices"]) == 4 for q in out[0]["questions"])
    assert res.exit_code == 1  # one passage gave nothing: the batch says so
    assert "1 of 3 passage(s) gave no questions" in res.stderr


def test_one_sentence_file_says_why_and_fails(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Mia found a red kite near the old oak tree at the edge of the park.\n")
    res = CliRunner().invoke(main, ["questions", "--file", str(short)])
    assert res.exit_code == 1
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output
    assert "too short for 5 question(s)" in lines[0] and "at least 3" in lines[0]


def test_unknown_type_is_a_usage_error(tmp_path):
    f = tmp_path / "story.txt"
    f.write_text(STORY)
    res = CliRunner().invoke(main, ["questions", "--file", str(f), "--types", "riddle"])
    assert res.exit_code == 2 and "unknown type(s) riddle" in res.output
