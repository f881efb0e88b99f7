"""The latency budget: hanging providers against the official SDKs and local servers.

A hung provider accepts the connection and never answers (``Reply.hang``). Budgets here
are a second or two, so every case is bounded; each elapsed-time check allows generous
slack for a shared CPU (these prove the mechanism, the benchmark measures the figures).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from fakes.llm_servers import Reply, fake_anthropic_server, fake_openai_server
from fakes.providers import FakeProvider

from readloom.llm.base import AllProvidersFailed, ChatMessage, LLMRequest
from readloom.llm.deadline import turn_budget
from readloom.llm.registry import build_providers
from readloom.llm.router import FailoverRouter

ANSWER = "What did Tobias see from the lighthouse window?"
BUDGET = {
    "llm_timeout_s": 20.0,  # the production SDK timeout: the budget, not it, must cut in
    "turn_budget_s": 1.5,
    "llm_offline_reserve_s": 0.3,
    "llm_hedge_initial_s": 0.3,
}
SLACK_S = 0.6


def request(task: str = "tutor_reply") -> LLMRequest:
    msgs = [ChatMessage(role="user", content="Why did Tobias stay awake?")]
    return LLMRequest(task=task, messages=msgs, prompt_id="tutor_reply@v1")  # type: ignore[arg-type]


def router(settings, offline=None) -> FailoverRouter:
    factories = {"offline": lambda s: offline or FakeProvider()}
    return FailoverRouter(build_providers(settings, factories=factories), settings)


async def timed(r: FailoverRouter, req: LLMRequest | None = None):
    start = time.monotonic()
    routed = await r.route(req or request())
    return routed, time.monotonic() - start


async def test_hanging_primary_is_hedged_to_the_next_provider(settings_for):
    with (
        fake_openai_server(default=Reply.hang(10)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant, **BUDGET))
        routed, elapsed = await timed(r)
    assert routed.result.provider == "anthropic" and routed.result.text == ANSWER
    assert 0.3 <= elapsed < 0.3 + SLACK_S  # the hedge delay, not the 20 s SDK timeout
    assert routed.trace.failures == ["openai:timeout"]  # abandoned as too slow
    assert routed.trace.fallback_reasons == ["openai:timeout"]
    assert len(oai.requests) == 1 and len(ant.requests) == 1


async def test_a_hanging_provider_opens_its_breaker_then_costs_nothing(settings_for):
    with (
        fake_openai_server(default=Reply.hang(10)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant, **BUDGET))
        for _ in range(3):  # breaker_failure_threshold slow calls
            await r.route(request())
        assert r.breakers["openai"].state == "open"
        routed, elapsed = await timed(r)
    assert routed.trace.fallback_reasons == ["openai:circuit_open"]
    assert len(oai.requests) == 3 and elapsed < 0.2


async def test_everything_hanging_the_offline_tier_answers_within_the_budget(settings_for):
    offline = FakeProvider(replies=["Let's read the first paragraph again."])
    with (
        fake_openai_server(default=Reply.hang(10)) as oai,
        fake_anthropic_server(default=Reply.hang(10)) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant, **BUDGET), offline)
        routed, elapsed = await timed(r)
    assert routed.result.provider == "offline"
    # Both network tiers got the budget minus the offline reserve, no more.
    assert 1.5 - 0.3 - 0.05 <= elapsed < 1.5 + 0.2
    assert sorted(routed.trace.failures) == ["anthropic:timeout", "openai:timeout"]
    assert r.breakers["openai"]._failures == 1 and r.breakers["anthropic"]._failures == 1


async def test_a_single_hanging_provider_is_cut_at_the_budget(settings_for):
    with fake_openai_server(default=Reply.hang(10)) as oai:
        s = settings_for(openai=oai, providers=["openai"], **BUDGET)
        start = time.monotonic()
        with pytest.raises(AllProvidersFailed) as info:
            await router(s).route(request())
        elapsed = time.monotonic() - start
    assert [e.kind for e in info.value.exceptions] == ["timeout"]
    assert 1.5 - 0.05 <= elapsed < 1.5 + SLACK_S  # no reserve without an offline tier


async def test_the_turn_budget_is_shared_by_the_calls_of_one_turn(settings_for):
    offline = FakeProvider()
    with (
        fake_openai_server(default=Reply.hang(10)) as oai,
        fake_anthropic_server(default=Reply.hang(10)) as ant,
    ):
        s = settings_for(openai=oai, anthropic=ant, **{**BUDGET, "breaker_failure_threshold": 9})
        r = router(s, offline)
        start = time.monotonic()
        with turn_budget(1.5):
            first = await r.route(request())
            second = await r.route(request())  # nothing left: straight to the offline tier
        elapsed = time.monotonic() - start
    assert first.result.provider == second.result.provider == "offline"
    assert second.trace.fallback_reasons == ["openai:budget", "anthropic:budget"]
    assert elapsed < 1.5 + SLACK_S and len(oai.requests) == 1


async def test_a_teachers_question_set_gets_the_longer_budget(settings_for):
    with (
        fake_openai_server(default=Reply.ok(ANSWER, delay_s=0.8)) as oai,
        fake_anthropic_server(default=Reply.hang(10)) as ant,
    ):
        s = settings_for(
            openai=oai, anthropic=ant, **{**BUDGET, "turn_budget_s": 0.5, "questions_budget_s": 3}
        )
        r = router(s)
        r.latency.initial_s = 5.0  # no hedging here: only the budget is under test
        student = await r.route(request())
        teacher = await r.route(request("questions"))
    assert student.result.provider == "offline"
    assert teacher.result.provider == "openai"


async def test_no_retry_starts_when_its_wait_would_overrun_the_budget(settings_for):
    with (
        fake_openai_server(default=Reply.error(503, retry_after=0.5)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        s = settings_for(openai=oai, anthropic=ant, **{**BUDGET, "turn_budget_s": 0.9})
        routed, elapsed = await timed(router(s))
    assert routed.result.provider == "anthropic"
    assert len(oai.requests) == 1  # 0.5 s wait + an attempt does not fit in 0.6 s
    assert elapsed < 0.4


async def test_a_slow_primary_that_answers_first_wins_the_race(settings_for):
    with (
        fake_openai_server(default=Reply.ok("Primary answer.", delay_s=0.5)) as oai,
        fake_anthropic_server(default=Reply.hang(10)) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant, **BUDGET))
        routed, elapsed = await timed(r)
    assert routed.result.provider == "openai" and routed.result.text == "Primary answer."
    assert len(ant.requests) == 1  # the hedge went out, and was cancelled
    assert routed.trace.failures == []  # the hedge lost within its usual time: no fault
    assert r.breakers["anthropic"]._failures == 0
    assert elapsed < 0.5 + SLACK_S


async def test_hedging_learns_each_providers_usual_latency(settings_for):
    with (
        fake_openai_server(default=Reply.ok(ANSWER, delay_s=0.02)) as oai,
        fake_anthropic_server(default=Reply.ok("Backup.")) as ant,
    ):
        s = settings_for(openai=oai, anthropic=ant, **{**BUDGET, "llm_hedge_initial_s": 1.0})
        r = router(s)
        for _ in range(8):
            await r.route(request())
        assert r.latency.usual("openai", "tutor_reply") < 0.25
        assert r.latency.hedge_after("openai", "tutor_reply") == 0.25  # the floor
        oai.default = Reply.ok(ANSWER, delay_s=0.9)
        routed, elapsed = await timed(r)
    assert routed.result.provider == "anthropic" and elapsed < 0.25 + SLACK_S


async def test_concurrent_turns_under_a_hang_each_stay_within_the_budget(settings_for):
    with (
        fake_openai_server(default=Reply.hang(10)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER, delay_s=0.05)) as ant,
    ):
        r = router(settings_for(openai=oai, anthropic=ant, **BUDGET))
        results = await asyncio.gather(*(timed(r) for _ in range(6)))
    assert all(routed.result.provider == "anthropic" for routed, _ in results)
    assert max(elapsed for _, elapsed in results) < 1.5 + SLACK_S


# --- breaker state shared through Redis ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """A private redis-server on a free loopback port, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (bash .ci/redis.sh installs it)")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):  # bounded: up to ~5 s for the server to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.skip("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


async def test_breaker_state_is_shared_between_workers(settings_for, redis_url):
    with (
        fake_openai_server(default=Reply.error(500)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        s = settings_for(openai=oai, anthropic=ant, redis_url=redis_url, llm_backoff_initial_s=0)
        worker_a, worker_b = router(s), router(s)
        await worker_a.route(request())  # three 500s: worker A opens the breaker
        assert worker_a.breakers["openai"].state == "open"
        assert worker_b.breakers["openai"].state == "open"  # B has never called openai
        routed = await worker_b.route(request())
    assert routed.trace.fallback_reasons == ["openai:circuit_open"]
    assert len(oai.requests) == 3


async def test_a_probe_by_one_worker_closes_the_breaker_for_all(settings_for, redis_url):
    with (
        fake_openai_server(default=Reply.error(500)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        s = settings_for(
            openai=oai, anthropic=ant, redis_url=redis_url, breaker_cooldown_s=1,
            llm_backoff_initial_s=0,
        )  # fmt: skip
        worker_a, worker_b = router(s), router(s)
        await worker_a.route(request())
        oai.default = Reply.ok("Primary is back.")
        for _ in range(50):  # bounded: the shared opened-at has one-second resolution
            if worker_b.breakers["openai"].state == "half_open":
                break
            await asyncio.sleep(0.1)
        probe = await worker_b.route(request())
        assert probe.result.provider == "openai"
    # A opened it, B's probe closed it: A reads the shared state, and calls openai again.
    assert worker_a.breakers["openai"].state == "closed"


async def test_an_unreachable_redis_leaves_the_breaker_working_in_process(settings_for):
    with (
        fake_openai_server(default=Reply.error(500)) as oai,
        fake_anthropic_server(default=Reply.ok(ANSWER)) as ant,
    ):
        dead = f"redis://127.0.0.1:{_free_port()}/0"
        s = settings_for(openai=oai, anthropic=ant, redis_url=dead, llm_backoff_initial_s=0)
        r = router(s)
        await r.route(request())
        routed = await r.route(request())
    assert r.breakers["openai"].state == "open"
    assert routed.trace.fallback_reasons == ["openai:circuit_open"]
