"""The grader with a model configured: the judge answers through the gate (a real local
OpenAI-protocol server), the offline grade is the floor and the fallback, disagreements are
reported for review."""

from __future__ import annotations

from fakes.llm_servers import Reply, fake_openai_server
from fakes.providers import FakeProvider
from fakes.redactor import MapRedactor

from readloom.agents.grader import GradeItem, Grader
from readloom.llm.gate import LLMGate

ITEM = dict(
    question="Why did Wren gasp?",
    answer="she knew the fishing boats were still out at sea",
    passage="Wren gasped, because she knew that the fishing boats were still out at sea.",
)


def _grader(settings, reviewed: list) -> Grader:
    gate = LLMGate.from_settings(
        settings, MapRedactor({}), provider_factories={"offline": lambda s: FakeProvider()}
    )
    return Grader(gate=gate, settings=settings, on_disagreement=reviewed.append)


async def test_the_model_judges_and_a_disagreement_goes_to_review(settings_for):
    reviewed: list = []
    verdict = {"verdict": "incorrect", "reason": "misses why she gasped"}
    with fake_openai_server(default=Reply.json(verdict)) as oai:
        grader = _grader(settings_for(openai=oai), reviewed)
        got = await grader.grade(
            GradeItem(**ITEM, response="because the boats were still out"), session_id="g1"
        )
        assert len(oai.requests) == 1
        assert "response_format" in oai.requests[0].raw or "json" in oai.requests[0].raw.lower()
    assert got.source == "model" and got.verdict == "incorrect"
    assert got.offline_verdict in ("correct", "partially_correct") and got.disagreement
    assert reviewed == [got]


async def test_a_guess_list_is_never_sent_to_the_judge_nor_accepted(settings_for):
    reviewed: list = []
    with fake_openai_server(default=Reply.json({"verdict": "correct", "reason": "x"})) as oai:
        grader = _grader(settings_for(openai=oai), reviewed)
        got = await grader.grade(
            GradeItem(**ITEM, response="the boats or the rocks or the storm"), session_id="g2"
        )
        assert oai.requests == []
    assert got.verdict == "not_an_answer" and got.reason == "guess_list" and not got.accepted


async def test_a_failing_judge_falls_back_to_the_offline_grade(settings_for):
    with fake_openai_server(default=Reply.error(400)) as oai:
        grader = _grader(settings_for(openai=oai), [])
        got = await grader.grade(
            GradeItem(**ITEM, response="she knew the boats were out at sea"), session_id="g3"
        )
    assert got.source == "offline" and got.verdict == "correct"
