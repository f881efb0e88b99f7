"""``readloom grade``: one JSON line per input, in order, with the verdict; bad lines are a
clear error before anything is graded."""

from __future__ import annotations

import json

from click.testing import CliRunner

from readloom.cli import main

PASSAGE = (
    "Tobias the lighthouse keeper had lived on Gull Rock for eleven years. Every evening he "
    "climbed the one hundred and twelve steps of the tower and lit the lamp."
)
ROWS = [
    {"passage": PASSAGE, "question": "Who lit the lamp?", "answer": "Tobias",
     "response": "the keeper", "id": "a"},
    {"passage": PASSAGE, "question": "Who lit the lamp?", "answer": "Tobias",
     "response": "tobias or wren or the grandmother", "id": "b"},
    {"passage": PASSAGE, "question": "How many steps?", "answer": "one hundred and twelve",
     "response": "112", "id": "c"},
    {"passage": PASSAGE, "question": "How many steps?", "answer": "one hundred and twelve",
     "response": "this is boring", "id": "d"},
]  # fmt: skip


def test_grades_a_file_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("READLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("READLOOM_PROVIDERS", "offline")
    data = tmp_path / "answers.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    result = CliRunner().invoke(main, ["grade", "--data", str(data), "--format", "json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [x["id"] for x in lines] == ["a", "b", "c", "d"]
    assert [x["verdict"] for x in lines] == ["correct", "not_an_answer", "correct", "not_an_answer"]
    assert lines[1]["reason"] == "guess_list"
    assert all(0 <= x["confidence"] <= 1 and x["response"] for x in lines)


def test_a_bad_line_names_the_line_and_grades_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("READLOOM_HOME", str(tmp_path / "home"))
    data = tmp_path / "answers.jsonl"
    data.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({"question": "q"}) + "\n")
    result = CliRunner().invoke(main, ["grade", "--data", str(data)])
    assert result.exit_code == 1
    assert "line 2" in result.output and "answer" in result.output
    assert '"verdict"' not in result.output
