"""A tutoring session against a local fake OpenAI server (the official SDK over real HTTP):
a 500 then a success, then a provider that keeps failing. The trace shows every attempt
with its GenAI attributes, the retry, the failover to the offline tier with its reason,
the circuit breaker opening, the response cache, and the evaluator's rejection sending
the turn to ``offline_fallback``; still no PII anywhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter

import pytest
from fakes.llm_servers import Reply, fake_openai_server
from obs_support import capture, pii_found

from readloom.llm.gate import LLMGate
from readloom.observability import turn_span
from readloom.service import Readloom
from readloom.settings import Settings

PASSAGE_ID = "lighthouse-keeper"
TENANT = f"district-{uuid.uuid4().hex[:6]}"
ANSWER = "the lighthouse keeper"
QUESTIONS = {
    "questions": [
        {
            "question": "Who is Tobias?",
            "type": "who",
            "answer": ANSWER,
            "evidence": "Tobias the lighthouse keeper had lived on Gull Rock for eleven years.",
            "skill": "ask_answer_questions",
        },
        {
            "question": "What did Mr. Santos bring to Gull Rock?",
            "type": "what",
            "answer": "a basket of fresh bread",
            "evidence": "A fisherman named Mr. Santos rowed out to Gull Rock with a basket "
            "of fresh bread to say thank you.",
            "skill": "ask_answer_questions",
        },
    ]
}
PII = ["Xiomara", "Quennell", "xiomara.q@example.com", "555-867-5309"]
SCRIPT = [
    "hi, I'm Xiomara Quennell, email xiomara.q@example.com",
    f"{ANSWER}! call me at 555-867-5309",
    "idk, Xiomara needs a hint",
    "what now? it's Xiomara again",  # the breaker is open by now: openai is skipped
]


@pytest.fixture(scope="module")
def run(obs_services, tmp_path_factory):
    # the first questions request fails (500) then succeeds; three replies that are not
    # grounded in the passage make the evaluator revise twice and reject; after that the
    # provider only answers 500
    script = [Reply.error(500), Reply.json(QUESTIONS)] + [
        Reply.ok("Hello from the fake model.")
    ] * 3
    with fake_openai_server(script, default=Reply.error(500)) as srv, capture() as cap:
        settings = Settings(
            home=tmp_path_factory.mktemp("obs-openai"),
            providers=["openai", "offline"],
            openai_api_key="sk-test",
            openai_base_url=srv.base_url,
            llm_max_attempts=2,
            llm_backoff_initial_s=0.01,
            llm_backoff_max_s=0.02,
            llm_timeout_s=5.0,
            breaker_failure_threshold=3,
            # budgets far above a turn's time on a busy machine: the reasons on the trace come
            # from the provider's faults, never from the clock
            turn_budget_s=300.0,
            questions_budget_s=300.0,
        )
        gate = LLMGate.from_settings(settings, redactor=obs_services.guards.redactor)
        svc = dataclasses.replace(obs_services, settings=settings, gate=gate)
        sid = f"ses-{uuid.uuid4().hex[:12]}"

        async def session() -> list:
            results = []
            async with Readloom(settings, services=svc) as app:
                for i, message in enumerate(SCRIPT):
                    with turn_span("tutor_turn", session_id=sid, tenant=TENANT):
                        results.append(
                            await app.tutor_turn(
                                session_id=sid,
                                message=message,
                                tenant=TENANT,
                                student_id="stu-fo-1",
                                passage_id=PASSAGE_ID if i == 0 else None,
                            )  # fmt: skip
                        )
            await gate.aclose()
            return results

        results = asyncio.run(session())
        cap.telemetry.force_flush()
        yield {"cap": cap, "srv": srv, "results": results, "sid": sid}


def _attempts(cap, system: str) -> list:
    spans = [s for s in cap.named("chat ") if s.attributes["gen_ai.system"] == system]
    return sorted(spans, key=lambda s: s.start_time)


def test_a_500_then_a_success_are_two_attempts_on_the_trace(run):
    cap, srv = run["cap"], run["srv"]
    first, second = _attempts(cap, "openai")[:2]
    assert first.parent.span_id == second.parent.span_id  # the same gate call
    assert first.attributes["error.type"] == "server"
    assert first.attributes["http.response.status_code"] == 500
    assert first.status.status_code.name == "ERROR"
    assert first.attributes["readloom.llm.provider_attempt"] == 1
    assert second.attributes["readloom.llm.provider_attempt"] == 2
    assert second.attributes["readloom.llm.attempt"] == 2
    assert "error.type" not in second.attributes
    assert second.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert second.attributes["gen_ai.response.model"] == srv.model
    assert second.attributes["gen_ai.usage.input_tokens"] > 0
    assert second.attributes["gen_ai.usage.output_tokens"] > 0
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    gate_span = next(
        s for s in cap.named("readloom.llm ") if s.context.span_id == first.parent.span_id
    )
    assert gate_span.attributes["readloom.llm.task"] == "questions"
    assert gate_span.attributes["readloom.llm.provider"] == "openai"
    assert gate_span.attributes["readloom.llm.attempts"] == 2
    # one attempt span per request the fake server received, in order
    assert len(_attempts(cap, "openai")) == len(srv.requests)


def test_failover_reason_and_breaker_state_are_on_the_trace(run):
    cap = run["cap"]
    offline = _attempts(cap, "offline")
    reasons = [s.attributes.get("readloom.llm.fallback_reasons") for s in offline]
    assert ("openai:server",) in reasons
    assert ("openai:circuit_open",) in reasons  # later calls skip the open breaker
    states = [s.attributes["readloom.llm.breaker.state"] for s in _attempts(cap, "openai")]
    assert states[0] == "closed"
    failovers = [
        e for s in cap.named("readloom.llm ") for e in s.events if e.name == "llm.failover"
    ]
    assert {(e.attributes["provider"], e.attributes["reason"]) for e in failovers} == {
        ("openai", "server"),
        ("openai", "circuit_open"),
    }
    counted = {(a["provider"], a["reason"]) for a, _ in cap.metric("readloom.llm.failovers")}
    assert counted == {("openai", "server"), ("openai", "circuit_open")}
    assert ({"provider": "openai"}, 2) in cap.metric("readloom.llm.breaker.state")  # open


def test_rejected_drafts_reach_offline_fallback_and_cache_hits_show(run):
    cap = run["cap"]
    nodes = Counter(s.attributes["readloom.node"] for s in cap.named("node "))
    assert nodes["offline_fallback"] == 1
    assert nodes["executor"] >= 3  # the first draft and two revisions
    verdicts = [s.attributes["readloom.verdict.action"] for s in cap.named("node evaluator")]
    assert verdicts[:3] == ["revise", "revise", "reject"]
    fallback = cap.named("node offline_fallback")[0]
    (llm,) = [s for s in cap.named("readloom.llm ") if s.parent.span_id == fallback.context.span_id]
    assert llm.attributes["readloom.llm.only_providers"] == ("offline",)
    hits = [s for s in cap.named("readloom.llm ") if s.attributes.get("readloom.llm.cached")]
    assert hits and all(any(e.name == "llm.cache_hit" for e in s.events) for s in hits)
    lookups = {a["result"]: v for a, v in cap.metric("readloom.llm.cache.lookups")}
    assert lookups["hit"] == len(hits)
    tokens = {(a["provider"], a["type"]) for a, _ in cap.metric("readloom.llm.tokens")}
    assert ("openai", "input") in tokens and ("offline", "output") in tokens


def test_no_pii_reached_the_provider_or_the_telemetry(run):
    assert run["srv"].requests
    raw = run["srv"].raw_bodies()
    assert not [v for v in PII if v.lower() in raw.lower()]
    assert pii_found(run["cap"], PII + ["stu-fo-1"]) == []
