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


def test_a_warm_questions_run_loads_no_torch_and_gives_the_same_questions() -> None:
    """The second run on a home reads its passage's sentence vectors from the home's cache
    (retrieval.vector_cache): no torch, transformers or nltk, and the same output."""
    heavy = ("torch", "transformers", "sentence_transformers", "nltk")
    script = SCRIPT.replace("%r", repr(heavy))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
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
