"""LLMGate end to end: redaction before anything leaves, limits, cache, usage, provenance.

Providers are the official SDKs against local protocol servers that record every request
body; the last tier is an in-process fake that records the (redacted) request it gets.
"""

from __future__ import annotations

import logging

import pytest
from fakes.llm_servers import Reply, fake_openai_server
from fakes.providers import FakeProvider
from fakes.redactor import MapRedactor
from pydantic import BaseModel

from readloom.errors import BudgetExceeded, GuardrailDenied, RateLimited
from readloom.llm.base import ChatMessage, LLMRequest
from readloom.llm.gate import LLMGate
from readloom.retrieval.models import Passage

PII = {
    "Maria Lopez": "PERSON",
    "Maria": "PERSON",
    "Jayden": "PERSON",
    "555-0199": "PHONE_NUMBER",
    "12 Elm Street": "LOCATION",
    "Lincoln Elementary": "SCHOOL",
    "Tobias": "PERSON",  # also a character in the passage: allow-listed there
}
VALUES = [v for v in PII if v != "Tobias"]
ALLOW = frozenset({"Tobias"})


class QuestionSet(BaseModel):
    questions: list[str]


class Wrapper:
    """A value type the gate does not know how to redact."""


def passage() -> Passage:
    return Passage(
        passage_id="lighthouse-1",
        title="The Lighthouse",
        text="Tobias climbed the stairs. The storm came from the sea.",
        grade=4,
        characters=["Tobias"],
    )


def tutor_request(**kw) -> LLMRequest:
    messages = [
        ChatMessage(role="system", content="Student Maria Lopez, grade 4, Lincoln Elementary."),
        ChatMessage(role="user", content="my friend Jayden lives on 12 Elm Street"),
        ChatMessage(role="assistant", content="Let's get back to Tobias and the storm."),
        ChatMessage(role="user", content="ok call MARIA at 555-0199. why did Tobias stay?"),
    ]
    variables = {
        "student_message": "ok call MARIA at 555-0199. why did Tobias stay?",
        "history": [{"role": "student", "text": "Jayden says hi"}, ("tutor", "Hi <PERSON_1>")],
        "passage": passage(),
        "grade": 4,
        "correct": None,
        "extra": {"Maria": ["Lincoln Elementary", 3]},
    }
    base = {
        "task": "tutor_reply",
        "messages": messages,
        "variables": variables,
        "prompt_id": "tutor_reply@v3",
        "tenant": "district-a",
    }
    return LLMRequest(**(base | kw))


def gate_for(settings, redactor=None, offline=None, **router_kw) -> LLMGate:
    return LLMGate.from_settings(
        settings,
        redactor or MapRedactor(PII),
        provider_factories={"offline": lambda s: offline or FakeProvider()},
        **router_kw,
    )


def leaked(text: str) -> list[str]:
    return [v for v in VALUES if v.lower() in text.lower()]


async def test_no_pii_reaches_the_provider_and_provenance_is_complete(settings_for, caplog):
    caplog.set_level(logging.DEBUG)
    reply = Reply.ok("Why do you think <PERSON_1> stayed, Tobias?", usage=(120, 30))
    with fake_openai_server([Reply.error(500), reply]) as oai:
        gate = gate_for(settings_for(openai=oai))
        result = await gate.generate(
            tutor_request(), session_id="s1", allow_list=ALLOW, student_id="stu-1"
        )
        await gate.aclose()
    assert len(oai.requests) == 2
    assert leaked(oai.raw_bodies()) == []
    assert "Tobias" in oai.raw_bodies()  # allow-listed character name survives
    assert "<PERSON_1>" in oai.raw_bodies()
    assert leaked(caplog.text) == []
    assert result.text == "Why do you think <PERSON_1> stayed, Tobias?"  # stays pseudonymized
    p = result.provenance
    assert (p.provider, p.model, p.prompt) == ("openai", "gpt-4o-mini", "tutor_reply@v3")
    assert (p.attempts, p.fallback_reasons, p.cached) == (2, [], False)
    assert (p.input_tokens, p.output_tokens) == (120, 30)
    assert p.cost_usd == pytest.approx((120 * 0.15 + 30 * 0.60) / 1e6)


async def test_usage_is_recorded_in_the_ledger(settings_for):
    with fake_openai_server([Reply.ok("Hi", usage=(10, 2))]) as oai:
        gate = gate_for(settings_for(openai=oai))
        await gate.generate(tutor_request(), session_id="s1", allow_list=ALLOW, student_id="s-9")
        rows = gate.ledger.rows("district-a")
    assert len(rows) == 1
    row = rows[0]
    assert (row["provider"], row["model"]) == ("openai", "gpt-4o-mini")
    assert row["prompt_id"] == "tutor_reply@v3"
    assert (row["input_tokens"], row["output_tokens"], row["student_id"]) == (10, 2, "s-9")
    assert row["cost_usd"] > 0 and row["cached"] == 0


async def test_variables_are_redacted_recursively_for_the_last_tier(settings_for):
    offline = FakeProvider()
    gate = gate_for(settings_for(), offline=offline)  # no keys: only the offline tier
    result = await gate.generate(tutor_request(), session_id="s2", allow_list=ALLOW)
    assert result.provenance.provider == "offline"
    seen = offline.calls[0]
    dump = repr(seen.variables) + repr(seen.messages)
    assert leaked(dump) == []
    v = seen.variables
    assert isinstance(v["passage"], Passage) and v["passage"].characters == ["Tobias"]
    assert v["grade"] == 4 and v["correct"] is None
    assert v["history"][1] == ("tutor", "Hi <PERSON_1>")  # tuples stay tuples
    (maria,) = v["extra"]  # dict keys are redacted too
    assert maria.startswith("<PERSON_") and v["extra"][maria] == ["<SCHOOL_1>", 3]
    # The same person keeps one pseudonym across every field of the session.
    assert maria in v["student_message"] and maria in seen.messages[3].content


async def test_redaction_failure_denies_and_sends_nothing(settings_for):
    class Broken(MapRedactor):
        def redact(self, text, *, session_id, allow_list=frozenset()):
            raise RuntimeError(f"model crashed on {text}")

    with fake_openai_server() as oai:
        gate = gate_for(settings_for(openai=oai), redactor=Broken(PII))
        with pytest.raises(GuardrailDenied) as info:
            await gate.generate(tutor_request(), session_id="s1", allow_list=ALLOW)
        assert info.value.code == "redaction_failed" and leaked(str(info.value)) == []
        assert info.value.__context__ is None
        with pytest.raises(GuardrailDenied):
            req = tutor_request(variables={"thing": Wrapper()})
            await gate.generate(req, session_id="s1", allow_list=ALLOW)
    assert oai.requests == []


async def test_identical_teacher_requests_are_served_from_cache(settings_for):
    body = QuestionSet(questions=["Who is Tobias?", "What came from the sea?"])
    teacher = LLMRequest(
        task="questions",
        messages=[ChatMessage(role="user", content="Questions for: " + passage().text)],
        variables={"passage": passage(), "count": 2},
        prompt_id="questions@v2",
        output_schema=QuestionSet,
        tenant="district-a",
        cacheable=True,
    )
    with fake_openai_server(default=Reply.ok(body.model_dump_json(), usage=(300, 60))) as oai:
        gate = gate_for(settings_for(openai=oai))
        first = await gate.generate(teacher, session_id="teacher-1", allow_list=ALLOW)
        second = await gate.generate(teacher, session_id="teacher-2", allow_list=ALLOW)
        other = await gate.generate(
            teacher.model_copy(update={"tenant": "district-b"}), session_id="t3", allow_list=ALLOW
        )
        uncached = teacher.model_copy(update={"cacheable": False})
        await gate.generate(uncached, session_id="teacher-1", allow_list=ALLOW)
    assert len(oai.requests) == 3  # first, other tenant, and the non-cacheable one
    assert second.parsed == first.parsed == body
    assert second.provenance.cached and not first.provenance.cached and not other.provenance.cached
    assert second.provenance.cost_usd == 0 and second.provenance.provider == "openai"
    assert gate.ledger.summary("district-a")["cached_calls"] == 1


async def test_offline_answers_are_not_cached(settings_for):
    offline = FakeProvider(default='{"questions": ["Who?"]}')
    gate = gate_for(settings_for(), offline=offline)
    req = tutor_request(task="questions", output_schema=QuestionSet, cacheable=True)
    for _ in range(2):
        result = await gate.generate(req, session_id="t", allow_list=ALLOW)
        assert not result.provenance.cached and result.parsed == QuestionSet(questions=["Who?"])
    assert len(offline.calls) == 2


async def test_budget_refusal_stops_calls_before_the_provider(settings_for):
    with fake_openai_server(default=Reply.ok("Hi", usage=(600, 400))) as oai:
        gate = gate_for(settings_for(openai=oai, tenant_token_budget=1000))
        await gate.generate(tutor_request(), session_id="s", allow_list=ALLOW)
        with pytest.raises(BudgetExceeded):
            await gate.generate(tutor_request(), session_id="s", allow_list=ALLOW)
        other = await gate.generate(
            tutor_request(tenant="district-b"), session_id="s", allow_list=ALLOW
        )
    assert len(oai.requests) == 2 and other.provenance.provider == "openai"


async def test_rate_limit_refusal(settings_for):
    with fake_openai_server() as oai:
        gate = gate_for(settings_for(openai=oai, tenant_model_calls_per_minute=2))
        for _ in range(2):
            await gate.generate(tutor_request(), session_id="s", allow_list=ALLOW)
        with pytest.raises(RateLimited) as info:
            await gate.generate(tutor_request(), session_id="s", allow_list=ALLOW)
    assert len(oai.requests) == 2 and info.value.retry_after > 0


async def test_from_settings_uses_the_injected_redactor_factory(settings_for):
    made: list[object] = []

    def factory(settings):
        made.append(settings)
        return MapRedactor(PII)

    s = settings_for()
    gate = LLMGate.from_settings(
        s, redactor_factory=factory, provider_factories={"offline": lambda _: FakeProvider()}
    )
    assert made == [s] and isinstance(gate.redactor, MapRedactor)
    assert [p.name for p in gate.router.providers] == ["offline"]  # keyless tiers skipped
