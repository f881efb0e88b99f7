"""Limits that fit schools, on the defaults a district gets: a classroom's burst is served,
a runaway student is slowed down alone, and with Redis two workers share one limit."""

from __future__ import annotations

import os

import pytest

from readloom.errors import RateLimited
from readloom.llm.base import ChatMessage, LLMRequest
from readloom.llm.budget import TenantLimits
from readloom.llm.usage import UsageLedger
from readloom.service.limits import admit_request, admit_turn
from readloom.settings import Settings
from readloom.storage.ratelimit import Limiter

REDIS_URL = os.environ.get("READLOOM_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason='READLOOM_TEST_REDIS_URL is not set (run: eval "$(bash .ci/redis.sh)")'
)


def test_thirty_students_ten_messages_a_minute_on_defaults_none_refused(tmp_path) -> None:
    """The classroom of the issue: 30 students x 10 messages inside one minute, one
    tenant, default settings. Every layer that counts a turn is exercised: the per-key
    HTTP limit (one partner LMS key carries them all), the per-student and per-tenant
    turn limits, and the model-call rate for the ~1.5 gate calls a turn makes."""
    settings = Settings(home=tmp_path)
    limiter = Limiter(settings)
    gate_limits = TenantLimits(settings, UsageLedger(settings))
    refused = 0
    for _message in range(10):
        for student in range(30):
            try:
                assert limiter.hit("api_key", "partner-key", settings.rate_limit_per_minute) == 0
                admit_turn(limiter, settings, tenant="district-a", student=f"s{student}")
                gate_limits.admit("district-a")  # the draft
                if student % 2:
                    gate_limits.admit("district-a")  # every other turn, a redraft
            except RateLimited:
                refused += 1
    assert refused == 0


def test_one_student_flooding_is_slowed_down_alone(tmp_path) -> None:
    settings = Settings(home=tmp_path)
    limiter = Limiter(settings)
    for _ in range(settings.student_turns_per_minute):
        admit_turn(limiter, settings, tenant="district-a", student="s1")
    with pytest.raises(RateLimited) as info:
        admit_turn(limiter, settings, tenant="district-a", student="s1")
    assert 0 < info.value.retry_after <= 60  # type: ignore[attr-defined]
    admit_turn(limiter, settings, tenant="district-a", student="s2")  # a classmate is served
    admit_turn(limiter, settings, tenant="district-b", student="s1")  # same pseudonym elsewhere


def test_tenant_limit_counts_batches_once(tmp_path) -> None:
    settings = Settings(home=tmp_path, tenant_turns_per_minute=3)
    limiter = Limiter(settings)
    for _ in range(3):
        admit_request(limiter, settings, tenant="district-a")
    with pytest.raises(RateLimited):
        admit_request(limiter, settings, tenant="district-a")
    admit_request(limiter, settings, tenant="district-b")


def _request(**kw) -> LLMRequest:
    base = {
        "task": "tutor_reply",
        "messages": [ChatMessage(role="user", content="hi")],
        "prompt_id": "tutor@v1",
    }
    return LLMRequest(**(base | kw))


def test_the_gate_counts_only_paid_first_calls(tmp_path) -> None:
    """The offline tier and an evaluator's redraft are not counted; a paid call is."""
    from readloom.llm.gate import LLMGate

    offline = LLMGate.from_settings(
        Settings(home=tmp_path, providers=["offline"]), redactor=_NoRedactor()
    )
    assert not offline._counted(_request())
    paid = LLMGate.from_settings(
        Settings(home=tmp_path, providers=["openai", "offline"], openai_api_key="sk-test"),
        redactor=_NoRedactor(),
    )
    assert paid._counted(_request())
    assert not paid._counted(_request(variables={"revision": 1}))
    assert not paid._counted(_request(only_providers=["offline"]))


class _NoRedactor:
    def redact(self, text: str, **_kw):  # pragma: no cover - never called here
        raise AssertionError("not used")


@needs_redis
def test_two_workers_share_one_limit_through_redis(tmp_path) -> None:
    """Two Limiters (two worker processes' worth) on one Redis allow the limit once."""
    settings = Settings(home=tmp_path, redis_url=REDIS_URL, student_turns_per_minute=4)
    a, b = Limiter(settings), Limiter(settings)
    assert a.shared and b.shared
    a.reset()
    allowed = 0
    for i in range(10):
        worker = a if i % 2 else b
        try:
            admit_turn(worker, settings, tenant="district-r", student="s1")
            allowed += 1
        except RateLimited:
            pass
    assert allowed == 4
    from readloom.storage.redis import get_redis

    client = get_redis(settings)
    assert client is not None and client.ping()
