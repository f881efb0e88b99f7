"""The failover router: one retry layer, one circuit breaker per provider, then the next tier.

Latency budget (``complete``/``route``): a request gets ``turn_budget_s`` (a student's
turn) or ``questions_budget_s`` (a teacher's question set), never more than the turn it
belongs to has left (``readloom.llm.deadline``). The network tiers share that budget
minus ``llm_offline_reserve_s``, kept for the offline tier, which always runs last and so
always answers in time. Each attempt is cut off at what is left, a retry starts only if
time remains after its wait, and a provider that runs past its usual latency (p95 of its
recent successes, see ``readloom.llm.latency``) is *hedged*: the next network tier starts
alongside it and the first good answer wins. A call abandoned for being too slow (budget
spent, or beaten after overrunning its usual latency) counts as a timeout toward its
breaker, so a hanging provider is soon skipped at no cost.

``FailoverRouter`` is itself a ``Provider``, so callers cannot tell a chain from one
provider. Per provider it retries retryable errors only (tenacity: exponential backoff
with jitter, or exactly ``Retry-After`` when the provider sends one), up to
``llm_max_attempts``, and never starts a retry later than ``llm_timeout_s`` after the
first attempt (so a hung provider costs one timeout, not ``llm_max_attempts`` of them,
before the next tier answers); anything else fails over at once. A provider asking to wait longer
than ``llm_retry_after_max_s`` is not waited for: the request fails over instead.
An open breaker skips its provider without a network call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from readloom.llm.base import (
    AllProvidersFailed,
    LLMRequest,
    LLMResult,
    Provider,
    ProviderError,
)
from readloom.llm.breaker import CircuitBreaker, shared_storage
from readloom.llm.deadline import turn_deadline
from readloom.llm.latency import LatencyTracker
from readloom.llm.sdk_errors import BREAKER_KINDS, simple_error
from readloom.observability.genai import llm_attempt, record_failover
from readloom.observability.instruments import watch_breakers
from readloom.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RouteTrace:
    """What the routing of one request went through: codes only, never text."""

    attempts: int = 0
    fallback_reasons: list[str] = field(default_factory=list)  # "<provider>:<kind>"
    failures: list[str] = field(default_factory=list)  # every failed attempt
    errors: list[ProviderError] = field(default_factory=list)

    def left(self, provider: str, err: ProviderError) -> None:
        self.fallback_reasons.append(f"{provider}:{err.kind}")
        self.errors.append(err)
        record_failover(provider, err)


@dataclass
class Routed:
    result: LLMResult
    trace: RouteTrace


class _CircuitOpen(ProviderError):
    def __init__(self, provider: str) -> None:
        super().__init__(
            f"{provider}: circuit open", provider=provider, retryable=False, kind="circuit_open"
        )


MIN_ATTEMPT_S = 0.1  # no attempt (or retry) starts with less time than this left
GRACE_S = 0.25  # how far past the deadline the race waits for attempts to stop by themselves


@dataclass
class _Tries:
    """One provider's attempts within one request."""

    started: bool = False
    last: ProviderError | None = None
    in_flight_since: float | None = None  # an attempt is on the wire (time.monotonic)

    def reason(self, err: ProviderError) -> ProviderError:
        """Why we left: the real failure, not the breaker it tripped mid-retries."""
        return self.last if isinstance(err, _CircuitOpen) and self.last else err


def _internal(provider: str) -> ProviderError:
    return ProviderError(
        f"{provider}: internal error", provider=provider, retryable=False, kind="internal"
    )


def _out_of_budget(provider: str) -> ProviderError:
    return ProviderError(
        f"{provider}: no time left in the budget", provider=provider, retryable=False,
        kind="budget",
    )  # fmt: skip


def is_local(provider: Provider) -> bool:
    """The in-process last tier: never hedged to, never cut short by the budget."""
    return bool(getattr(provider, "local", provider.name == "offline"))


@dataclass
class _Run:
    """One provider's place in a request's race."""

    provider: Provider
    tries: _Tries
    hedge_at: float  # when the next tier starts alongside it (time.monotonic)
    usual_s: float
    hedged: bool = False


class FailoverRouter:
    name = "router"

    def __init__(
        self,
        providers: Sequence[Provider],
        settings: Settings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.providers = list(providers)
        self.settings = settings
        self.breakers = {
            p.name: CircuitBreaker(
                p.name,
                threshold=settings.breaker_failure_threshold,
                cooldown_s=settings.breaker_cooldown_s,
                clock=clock,
                shared=None if is_local(p) else shared_storage(settings.redis_url, p.name),
            )
            for p in self.providers
        }
        self.latency = LatencyTracker(
            initial_s=settings.llm_hedge_initial_s, quantile=settings.llm_hedge_quantile
        )
        watch_breakers(self, self.breakers)
        self._sleep = sleep
        self._backoff = wait_exponential_jitter(
            multiplier=settings.llm_backoff_initial_s,
            max=settings.llm_backoff_max_s,
            jitter=settings.llm_backoff_initial_s,
        )

    @property
    def model(self) -> str:
        return self.providers[0].model if self.providers else "none"

    def providers_for(self, req: LLMRequest) -> list[Provider]:
        """The chain for this request (``req.only_providers`` narrows it, order kept)."""
        if req.only_providers is None:
            return self.providers
        return [p for p in self.providers if p.name in req.only_providers]

    def chain(self, req: LLMRequest) -> list[tuple[str, str]]:
        return [(p.name, p.model) for p in self.providers_for(req)]

    def available(self) -> bool:
        return any(p.available() for p in self.providers)

    # --- retry policy ----------------------------------------------------------------
    def _should_retry(self, rs: RetryCallState) -> bool:
        exc = rs.outcome.exception() if rs.outcome is not None else None
        if not isinstance(exc, ProviderError) or not exc.retryable:
            return False
        if exc.kind == "bad_output":
            return rs.attempt_number < 2  # one more try on the same provider, then move on
        return exc.retry_after is None or exc.retry_after <= self.settings.llm_retry_after_max_s

    def _wait(self, rs: RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome is not None else None
        if isinstance(exc, ProviderError) and exc.retry_after is not None:
            return exc.retry_after  # already capped by _should_retry
        return self._backoff(rs)

    def _retrying(self, deadline: float | None = None) -> AsyncRetrying:
        stop = stop_after_attempt(max(1, self.settings.llm_max_attempts)) | stop_before_delay(
            self.settings.llm_timeout_s
        )

        def out_of_time(rs: RetryCallState) -> bool:
            """A retry only if, after its wait, time for an attempt remains."""
            if stop(rs):
                return True
            left = deadline - time.monotonic() if deadline is not None else float("inf")
            return rs.upcoming_sleep + MIN_ATTEMPT_S >= left

        return AsyncRetrying(
            stop=out_of_time,
            wait=self._wait,
            retry=self._should_retry,
            sleep=self._sleep,
            reraise=True,
        )

    async def _attempt(
        self,
        provider: Provider,
        trace: RouteTrace,
        call: Callable[[], Awaitable[Any]],
        *,
        tries: _Tries,
        settle: bool = True,
        deadline: float | None = None,
        task: str | None = None,
    ) -> Any:
        """One call to one provider, reported to its breaker (unless ``settle`` is off:
        a stream that has started settles when it ends), cut off at ``deadline``."""
        breaker = self.breakers[provider.name]
        if tries.started and not breaker.allow():
            raise _CircuitOpen(provider.name)  # opened by the failures of this very request
        tries.started = True
        trace.attempts += 1

        async def bounded() -> Any:
            if deadline is None:
                return await call()
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    return await call()
            except TimeoutError:
                raise simple_error(provider.name, "timeout") from None

        started = tries.in_flight_since = time.monotonic()
        try:
            value = await llm_attempt(bounded, provider=provider, breaker=breaker, trace=trace)
        except ProviderError as e:
            self._settle(breaker, e)
            trace.failures.append(f"{provider.name}:{e.kind}")
            tries.last = e
            raise
        except Exception:
            err = tries.last = _internal(provider.name)
            self._settle(breaker, err)
            trace.failures.append(f"{provider.name}:internal")
            raise err from None
        except BaseException:
            breaker.release()
            raise
        finally:
            tries.in_flight_since = None
        if settle:
            breaker.record_success()
        if task is not None:
            self.latency.record(provider.name, task, time.monotonic() - started)
        return value

    @staticmethod
    def _settle(breaker: CircuitBreaker, err: ProviderError) -> None:
        if err.kind in BREAKER_KINDS or err.kind == "internal":
            breaker.record_failure()
        else:  # it answered (a 400, a refusal, a malformed answer): it is alive
            breaker.record_success()

    def _fail(self, trace: RouteTrace) -> AllProvidersFailed:
        log.warning(
            "llm_route_failed attempts=%d reasons=%s", trace.attempts, trace.fallback_reasons
        )
        errors = trace.errors or [_internal("router")]
        return AllProvidersFailed("every provider failed", errors)

    def _skip_if_open(self, provider: Provider, trace: RouteTrace) -> bool:
        if self.breakers[provider.name].allow():
            return False
        trace.left(provider.name, _CircuitOpen(provider.name))
        return True

    # --- complete --------------------------------------------------------------------
    async def complete(self, req: LLMRequest) -> LLMResult:
        return (await self.route(req)).result

    def deadline(self, req: LLMRequest) -> float:
        """When this request must be answered (``time.monotonic``)."""
        budget = (
            self.settings.questions_budget_s
            if req.task == "questions"
            else self.settings.turn_budget_s
        )
        deadline = time.monotonic() + budget
        turn = turn_deadline()
        return deadline if turn is None else min(deadline, turn)

    async def route(self, req: LLMRequest) -> Routed:
        trace = RouteTrace()
        chain = self.providers_for(req)
        local = [p for p in chain if is_local(p)]
        deadline = self.deadline(req)
        if local:
            deadline -= self.settings.llm_offline_reserve_s
        result = await self._race([p for p in chain if not is_local(p)], req, trace, deadline)
        if result is not None:
            return Routed(result=result, trace=trace)
        for provider in local:  # the floor: in-process, answers whatever time is left
            if self._skip_if_open(provider, trace):
                continue
            tries = _Tries()
            try:
                result = await self._retrying()(
                    self._attempt, provider, trace, lambda p=provider: p.complete(req), tries=tries
                )
            except ProviderError as e:
                trace.left(provider.name, tries.reason(e))
                continue
            return Routed(result=result, trace=trace)
        raise self._fail(trace)

    async def _race(
        self, providers: list[Provider], req: LLMRequest, trace: RouteTrace, deadline: float
    ) -> LLMResult | None:
        """The network tiers in order, each hedged to the next once past its usual
        latency; the first answer wins. None when every one failed or time ran out."""
        queue = list(providers)
        runs: dict[asyncio.Task[LLMResult], _Run] = {}
        newest: _Run | None = None
        try:
            while True:
                now = time.monotonic()
                if not runs or (
                    newest is not None and not newest.hedged and now >= newest.hedge_at
                ):
                    if newest is not None:
                        newest.hedged = True
                    started = self._start(queue, req, trace, deadline, runs)
                    newest = started or newest
                    if not runs:
                        return None
                wait = deadline + GRACE_S - now
                if wait <= 0:
                    return None
                if newest is not None and not newest.hedged and queue:
                    wait = min(wait, max(0.0, newest.hedge_at - now))
                done, _ = await asyncio.wait(
                    runs, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    run = runs.pop(task)
                    exc = task.exception()
                    if exc is None:
                        return task.result()
                    err = exc if isinstance(exc, ProviderError) else _internal(run.provider.name)
                    trace.left(run.provider.name, run.tries.reason(err))
        finally:
            await self._abandon(runs, trace, deadline)

    def _start(
        self,
        queue: list[Provider],
        req: LLMRequest,
        trace: RouteTrace,
        deadline: float,
        runs: dict[asyncio.Task[LLMResult], _Run],
    ) -> _Run | None:
        """Start the next provider in ``queue`` whose breaker lets it, if time allows."""
        while queue:
            provider = queue.pop(0)
            if deadline - time.monotonic() < MIN_ATTEMPT_S:
                trace.left(provider.name, _out_of_budget(provider.name))
                continue
            if self._skip_if_open(provider, trace):
                continue
            tries = _Tries()
            task = asyncio.create_task(
                self._retrying(deadline)(
                    self._attempt, provider, trace, lambda p=provider: p.complete(req),
                    tries=tries, deadline=deadline, task=req.task,
                )
            )  # fmt: skip
            usual = self.latency.hedge_after(provider.name, req.task)
            run = _Run(provider, tries, hedge_at=time.monotonic() + usual, usual_s=usual)
            runs[task] = run
            return run
        return None

    async def _abandon(
        self, runs: dict[asyncio.Task[LLMResult], _Run], trace: RouteTrace, deadline: float
    ) -> None:
        """Cancel the calls still running. One that had overrun its usual latency (or the
        budget) was too slow: a timeout for its breaker and the trace."""
        on_wire = {id(run): run.tries.in_flight_since for run in runs.values()}
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        now = time.monotonic()
        for run in runs.values():
            since = on_wire[id(run)]
            if since is None or (now - since < run.usual_s and now < deadline):
                continue  # between retries, or beaten while still within its usual time
            name = run.provider.name
            self.breakers[name].record_failure()
            trace.failures.append(f"{name}:timeout")
            trace.left(name, simple_error(name, "timeout"))
