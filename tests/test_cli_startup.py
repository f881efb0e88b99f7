"""Commands that must start fast load nothing heavy: checked on the modules a real
``readloom`` process has imported when it finishes (times are the benchmark's job,
evals/bench_startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "spacy", "presidio_analyzer", "chromadb", "sentence_transformers", "openai")
SCRIPT = """
import json, sys
import click
from readloom.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
    code = 0
except click.ClickException as exc:
    exc.show()
    code = exc.exit_code
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in %r if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def run(*args: str) -> tuple[dict, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT % (HEAVY,), *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    last = out.stderr.strip().splitlines()[-1]
    return json.loads(last), out.stdout + out.stderr


def test_passages_reads_the_catalogue_without_loading_models() -> None:
    result, output = run("passages", "--format", "json")
    assert result == {"code": 0, "heavy": []}, output[-2000:]
    listed = json.loads(output.splitlines()[0])
    assert listed and {"passage_id", "title", "grade", "genre", "source"} <= set(listed[0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("questions", "--passage-id", "no-such-passage"), "no passage with id"),
        (("questions",), "give --file PATH or --passage-id ID"),
        (("questions", "--count", "99"), "99 is not in the range"),
        (("tutor", "--passage-id", "no-such-passage"), "no passage with id"),
    ],
)
def test_argument_and_lookup_errors_come_before_any_model(args, message) -> None:
    result, output = run(*args)
    assert result["heavy"] == [] and result["code"] not in (0, None), output[-2000:]
    assert message in output


def test_a_warm_questions_run_loads_no_torch_and_gives_the_same_questions(tmp_path) -> None:
    """The second run on a home reads its passage's sentence vectors from the home's cache
    (retrieval.vector_cache): no torch, transformers or nltk, and the same output. (No
    installation file of shipped vectors here: that is tests/retrieval/test_corpus_vectors.)"""
    heavy = ("torch", "transformers", "sentence_transformers", "nltk")
    script = SCRIPT.replace("%r", repr(heavy))
    missing = tmp_path / "not-warmed-up.sqlite"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "READLOOM_CORPUS_VECTORS_PATH": str(missing)}
    args = ["questions", "--passage-id", "kofi-and-the-big-puddle", "--count", "3"]
    outs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        outs.append((json.loads(done.stderr.strip().splitlines()[-1]), done.stdout))
    (cold, cold_text), (warm, warm_text) = outs
    assert cold["code"] == 0 and "torch" in cold["heavy"], cold  # the first run embeds
    assert warm == {"code": 0, "heavy": []}, warm_text[-2000:]
    assert warm_text == cold_text and "Evidence:" in warm_text


ENTRY = """
import sys

class Teardown:
    def __del__(self):
        sys.stderr.write("interpreter teardown ran\\n")

_witness = Teardown()
from readloom.cli import main
main()
"""

PASSAGE = """---
passage_id: the-red-kite
title: The Red Kite
grade: 3
genre: fiction
topics: [wind, friendship]
characters: [Ada]
---
Ada made a red kite from paper and sticks. She ran up the hill when the wind blew hard.
The kite rose above the trees, and Ada laughed. Then the string snapped and the kite
flew away. Ada felt sad, but her friend Ben helped her build a new one the next day.
"""


def test_a_fast_exit_loses_nothing_written(tmp_path) -> None:
    """``ingest`` and ``questions`` end with ``os._exit`` through the console entry point
    (no interpreter teardown), yet the passage's rows and vectors are on disk for the next
    process and the output is the same, line for line, as with the ordinary exit."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    (tmp_path / "kite.md").write_text(PASSAGE, encoding="utf-8")

    def entry(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    ingested = entry("ingest", str(tmp_path / "kite.md"))
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    assert ingested.stdout == "added 1, updated 0, skipped 0 passage(s)\n"
    assert "interpreter teardown ran" not in ingested.stderr  # the fast exit was taken

    args = ("questions", "--passage-id", "the-red-kite", "--count", "3")
    fast = entry(*args)  # the catalogue row and the Chroma vectors came through
    assert fast.returncode == 0, fast.stderr[-2000:]
    assert "interpreter teardown ran" not in fast.stderr
    slow = subprocess.run(
        [sys.executable, "-c", SCRIPT % (HEAVY,), *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert fast.stdout == slow.stdout and "Ada" in fast.stdout and "Evidence:" in fast.stdout

    missing = entry("questions", "--passage-id", "no-such-passage")
    assert missing.returncode == 2 and "no passage with id" in missing.stderr
    assert "interpreter teardown ran" in missing.stderr  # no model loaded: the ordinary exit
