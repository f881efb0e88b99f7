"""The LLM-as-judge rubric through the real gate, against a local OpenAI-protocol server;
and reported as skipped (never faked) when no provider has a key."""

from __future__ import annotations

import asyncio

import pytest
from evalkit.context import EvalContext
from evalkit.judge import JUDGE_CRITERIA, judge_replies
from evalkit.model import SuiteOutput
from evalkit.suites.tutor import TurnLog
from fakes.llm_servers import Reply, fake_openai_server

from readloom.retrieval.passages import load_paths
from readloom.settings import Settings
from readloom.state import Question

PASSAGE = "kofi-and-the-big-puddle"


def _turns(n: int) -> list[TurnLog]:
    q = Question(question="Why did Kofi walk home slowly?", type="why",
                 answer="his boots were full of water", evidence="x", skill="cause_effect")  # fmt: skip
    return [
        TurnLog(
            script="s",
            passage_id=PASSAGE,
            index=i,
            message="i dont know",
            reply="Look at the part about his boots. What was inside them?",
            blocked=False,
            move="hint",
            intervention="escalate_hint",
            hint_level=1,
            correct=None,
            alert=False,
            question_before=q,
            question_after=q,
            provenance={},
        )  # fmt: skip
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def corpus():
    return {p.passage_id: p for p in load_paths([Settings().corpus_path])}


def test_judge_is_skipped_without_a_provider_key(tmp_path, corpus):
    ctx = EvalContext(settings=Settings(home=tmp_path, providers=["openai", "offline"]))
    out = SuiteOutput()
    asyncio.run(judge_replies(ctx, out, _turns(3), corpus))
    metrics = {m.name: m for m in out.metrics}
    assert all(metrics[f"judge_{c}"].value is None for c in JUDGE_CRITERIA)
    assert "no provider key" in metrics["judge_socratic"].skipped
    assert out.details["judge"]["skipped"]


@pytest.mark.slow
def test_judge_scores_replies_through_the_gate_and_names_the_model(tmp_path, corpus):
    from readloom.guardrails.pii import PiiRedactor
    from readloom.llm.gate import LLMGate

    scores = {"socratic": 4, "encouragement": 5, "grade_language": 3, "grounding": 4,
              "no_answer_leak": 5}  # fmt: skip
    with fake_openai_server([], default=Reply.json(scores), model="judge-model-1") as srv:
        settings = Settings(
            home=tmp_path, providers=["openai", "offline"], openai_api_key="test-key",
            openai_base_url=srv.base_url, openai_model="judge-model-1",
        )  # fmt: skip
        gate = LLMGate.from_settings(settings, redactor=PiiRedactor(settings))
        ctx = EvalContext(settings=settings)
        out = SuiteOutput()
        asyncio.run(judge_replies(ctx, out, _turns(3), corpus, gate=gate))
        bodies = [r.body for r in srv.requests]
    metrics = {m.name: m.value for m in out.metrics}
    assert metrics["judge_socratic"] == 4 and metrics["judge_grade_language"] == 3
    assert metrics["judge_failure_rate"] == 0
    assert out.details["judge"]["provider"] == "openai"
    assert out.details["judge"]["model"] == "judge-model-1"
    assert out.details["judge"]["prompt"].startswith("judge@v")
    assert len(bodies) == 3 and all(b["model"] == "judge-model-1" for b in bodies)
