"""Failover router: the official SDKs against local OpenAI/Anthropic servers with faults,
and an in-process last tier. Each fault must lead to retry, fail-over or stop, in
bounded time."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from fakes.llm_servers import (
    Reply,
    fake_anthropic_server,
    fake_openai_server,
    refused_base_url,
)
from fakes.providers import FakeProvider
from pydantic import BaseModel

from readloom.llm.base import AllProvidersFailed, ChatMessage, LLMRequest
from readloom.llm.registry import build_providers
from readloom.llm.router import FailoverRouter

ANSWER = "Tobias kept the light burning all night."
# A hung provider costs its 0.25 s timeout, not the hang: the bound leaves room for a
# busy machine (a shared CI runner) and is still far below the 10-30 s the fakes hang.
BOUNDED_S = 5.0


class Plan(BaseModel):
    intent: str
    move: str


class Sleeps:
    """Records the waits the router asks for, without spending them."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def request(**kw) -> LLMRequest:
    msgs = [ChatMessage(role="user", content="Why did Tobias stay awake?")]
    return LLMRequest(task="tutor_reply", messages=msgs, prompt_id="tutor_reply@v1", **kw)


def router(settings, offline=None, **kw) -> FailoverRouter:
    factories = {"offline": lambda s: offline or FakeProvider()}
    return FailoverRouter(build_providers(settings, factories=factories), settings, **kw)


async def apply(events) -> tuple[str, list[dict]]:
    """What a chat UI shows: tokens appended, a reset clears the message."""
    shown: list[str] = []
    seen: list[dict] = []
    async for ev in events:
        seen.append(ev)
        if ev["type"] == "token":
            shown.append(ev["text"])
        elif ev["type"] == "reset":
            shown.clear()
    return "".join(shown), seen


# --- complete ------------------------------------------------------------------------


async def test_500_is_retried_on_the_same_provider(settings_for):
    sleeps = Sleeps()
    with (
        fake_openai_server([Reply.error(500), Reply.error(503), Reply.ok(ANSWER)]) as oai,
        fake_anthropic_server() as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant), sleep=sleeps)
        routed = await r.route(request())
    assert routed.result.text == ANSWER and routed.result.provider == "openai"
    assert routed.trace.attempts == 3 and routed.trace.fallback_reasons == []
    assert len(oai.requests) == 3 and len(ant.requests) == 0
    assert len(sleeps.calls) == 2 and all(0 < s <= 0.04 for s in sleeps.calls)


async def test_429_retry_after_is_honoured(settings_for):
    sleeps = Sleeps()
    with fake_openai_server([Reply.error(429, retry_after="0.7"), Reply.ok(ANSWER)]) as oai:
        r = router(settings_for(openai=oai), sleep=sleeps)
        routed = await r.route(request())
    assert routed.result.provider == "openai" and sleeps.calls == [0.7]


async def test_429_asking_longer_than_the_cap_fails_over_at_once(settings_for):
    sleeps = Sleeps()
    with (
        fake_openai_server([Reply.error(429, retry_after=120)]) as oai,
        fake_anthropic_server([Reply.ok(ANSWER)]) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant), sleep=sleeps)
        routed = await r.route(request())
    assert routed.result.provider == "anthropic" and sleeps.calls == []
    assert routed.trace.fallback_reasons == ["openai:rate_limited"]
    assert len(oai.requests) == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Reply.error(401), "openai:auth"),
        (Reply.error(400), "openai:bad_request"),
        (Reply.error(400, code="content_policy_violation"), "openai:content_policy"),
    ],
)
async def test_non_retryable_errors_fail_over_without_retry(settings_for, fault, reason):
    sleeps = Sleeps()
    with fake_openai_server([fault]) as oai, fake_anthropic_server([Reply.ok(ANSWER)]) as ant:
        r = router(settings_for(openai=oai, anthropic=ant), sleep=sleeps)
        routed = await r.route(request())
    assert routed.result.provider == "anthropic" and routed.result.text == ANSWER
    assert len(oai.requests) == 1 and sleeps.calls == []
    assert routed.trace.fallback_reasons == [reason] and routed.trace.attempts == 2


async def test_hung_primary_times_out_then_fails_over_in_bounded_time(settings_for):
    with (
        fake_openai_server(default=Reply.hang(30)) as oai,
        fake_anthropic_server([Reply.ok(ANSWER)]) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant, llm_timeout_s=0.25))
        start = time.monotonic()
        routed = await r.route(request())
        elapsed = time.monotonic() - start
    assert routed.result.provider == "anthropic"
    # A timeout uses up the provider's retry window: one timeout, then the next tier.
    assert routed.trace.failures == ["openai:timeout"]
    assert routed.trace.fallback_reasons == ["openai:timeout"]
    assert len(oai.requests) == 1
    assert elapsed < BOUNDED_S  # the timeout, not the 30 s hang


async def test_fast_timeouts_are_retried_within_the_window(settings_for):
    # A 0.1 s read timeout inside a 1 s window: retried like any retryable error.
    with (
        fake_openai_server([Reply.hang(5), Reply.hang(5), Reply.ok(ANSWER)]) as oai,
        fake_anthropic_server() as ant,
    ):
        s = settings_for(openai=oai, anthropic=ant, llm_timeout_s=1.0)
        r = router(s)
        r.providers[0].client.timeout = openai.Timeout(0.1)  # e.g. a short connect timeout
        routed = await r.route(request())
    assert routed.result.provider == "openai" and len(oai.requests) == 3
    assert routed.trace.failures == ["openai:timeout", "openai:timeout"]


async def test_malformed_structured_output_is_retried_once_then_fails_over(settings_for):
    plan = {"intent": "help_request", "move": "hint"}
    with (
        fake_openai_server(default=Reply.ok('{"intent": "help_req')) as oai,
        fake_anthropic_server([Reply.json(plan)]) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant), sleep=Sleeps())
        routed = await r.route(request(output_schema=Plan))
    assert len(oai.requests) == 2
    assert routed.result.parsed == Plan(**plan) and routed.result.provider == "anthropic"
    assert routed.trace.fallback_reasons == ["openai:bad_output"]


async def test_everything_down_falls_to_the_last_tier(settings_for):
    offline = FakeProvider(replies=["What do you notice in the first paragraph?"])
    s = settings_for(openai=refused_base_url(), anthropic=refused_base_url("anthropic"))
    routed = await router(s, offline, sleep=Sleeps()).route(request())
    assert routed.result.provider == "offline"
    assert routed.trace.fallback_reasons == ["openai:connection", "anthropic:connection"]
    assert routed.trace.attempts == 7 and len(offline.calls) == 1


async def test_all_providers_failing_raises_all_providers_failed(settings_for):
    with fake_openai_server(default=Reply.error(500)) as oai:
        s = settings_for(openai=oai, providers=["openai", "anthropic"])
        with pytest.raises(AllProvidersFailed) as info:
            await router(s, sleep=Sleeps()).route(request())
    assert [e.kind for e in info.value.exceptions] == ["server"]
    assert len(oai.requests) == 3


async def test_a_crashing_tier_is_an_internal_failure_not_a_crash(settings_for):
    offline = FakeProvider(replies=[RuntimeError("bug")])
    with pytest.raises(AllProvidersFailed) as info:
        await router(settings_for(), offline).route(request())
    assert [e.kind for e in info.value.exceptions] == ["internal"]


async def test_only_providers_narrows_the_chain(settings_for, offline):
    with fake_openai_server() as oai:
        r = router(settings_for(openai=oai), offline)
        routed = await r.route(request(only_providers=["offline"]))
    assert routed.result.provider == "offline" and oai.requests == []


# --- circuit breaker -----------------------------------------------------------------


async def test_breaker_opens_skips_then_half_open_probe_closes_it(settings_for):
    clock = Clock()
    with (
        fake_openai_server(default=Reply.error(500)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        s = settings_for(openai=oai, anthropic=ant, breaker_cooldown_s=30)
        r = router(s, sleep=Sleeps(), clock=clock)
        first = await r.route(request())
        assert len(oai.requests) == 3 and r.breakers["openai"].state == "open"
        assert first.result.provider == "anthropic"

        for _ in range(3):  # open: no network call at all to the dead primary
            routed = await r.route(request())
            assert routed.trace.fallback_reasons == ["openai:circuit_open"]
            assert routed.trace.attempts == 1
        assert len(oai.requests) == 3

        clock.now += 30  # cool-down over: half-open, and the primary is back
        oai.default = Reply.ok("Primary is back.")
        probe = await r.route(request())
    assert probe.result.provider == "openai" and len(oai.requests) == 4
    assert r.breakers["openai"].state == "closed"


async def test_failed_probe_reopens_without_retrying(settings_for):
    clock = Clock()
    with (
        fake_openai_server(default=Reply.error(500)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant), sleep=Sleeps(), clock=clock)
        await r.route(request())
        clock.now += 30
        routed = await r.route(request())
    assert len(oai.requests) == 4  # 3 for the first request, then exactly one probe
    assert routed.result.provider == "anthropic"
    assert routed.trace.failures == ["openai:server"]
    assert routed.trace.fallback_reasons == ["openai:server"]  # the cause, not the breaker
    assert r.breakers["openai"].state == "open"


async def test_half_open_admits_a_single_probe_under_concurrency(settings_for):
    clock = Clock()
    with (
        fake_openai_server(default=Reply.error(500)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant), sleep=Sleeps(), clock=clock)
        await r.route(request())
        clock.now += 30
        oai.default = Reply.ok("Primary is back.", delay_s=0.2)
        results = await asyncio.gather(*(r.route(request()) for _ in range(5)))
    providers = sorted(res.result.provider for res in results)
    assert providers == ["anthropic"] * 4 + ["openai"]
    assert len(oai.requests) == 4


# --- streaming -----------------------------------------------------------------------
