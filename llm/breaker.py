"""A circuit breaker per provider, so a dead provider costs nothing once it is known dead.

closed --(``threshold`` consecutive failures)--> open --(``cooldown_s``)--> half-open;
half-open lets exactly one probe through: success closes, failure reopens for another
cool-down. Everything runs on one event loop, so plain attributes suffice (no locks);
the router checks ``allow()`` before every attempt and reports each outcome.

Several workers share what they learn when ``READLOOM_REDIS_URL`` is set: each outcome
is also written to pybreaker's ``CircuitRedisStorage`` (failure count, state, opened-at),
and the shared state is what every worker reads, so one worker's outage verdict (or its
successful probe) holds for all. A worker whose Redis is unreachable falls back to its
own in-process view, kept in step all along. The half-open probe slot stays per worker:
at most one probe per worker, never a shared lock. A worker reads the shared state at
most every ``SHARED_READ_S`` (its own writes at once): read before every call, Redis took
about a seventh of a busy worker's event loop, and an outage verdict a fraction of a
second late costs nothing a breaker exists to save.

The state machine is small and home-made on purpose: the router needs a non-blocking
"may I call?" check before each attempt, which the decorator-style libraries do not
expose; the shared storage is the library's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

log = logging.getLogger(__name__)

State = Literal["closed", "open", "half_open"]
REDIS_TIMEOUT_S = 0.25  # a slow Redis must not become the latency it protects against
UNKNOWN = "unknown"  # what pybreaker's storage reports when Redis cannot be read
SHARED_READ_S = 0.5  # how stale another worker's verdict may be in this one


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        shared: Any | None = None,
    ) -> None:
        self.name = name
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False
        self._shared = shared  # a pybreaker CircuitBreakerStorage, or None
        # (read at, state, opened_at, counter) of the last shared read; None: read again
        self._seen: tuple[float, str, datetime | None, int] | None = None

    @property
    def state(self) -> State:
        shared = self._shared_state()
        return self._local_state() if shared is None else shared

    def _local_state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def _shared_state(self) -> State | None:
        """The workers' common state, or None without (or without a reachable) Redis.
        Wall clock: workers share no monotonic one."""
        if self._shared is None:
            return None
        _, state, opened, _ = self._read_shared()
        if state == "closed":
            return "closed"
        if state != "open":
            return None  # UNKNOWN: Redis unreachable
        if opened is None or time.time() - opened.timestamp() >= self.cooldown_s:
            return "half_open"
        return "open"

    def _read_shared(self) -> tuple[float, str, datetime | None, int]:
        """The shared state, read from Redis at most every ``SHARED_READ_S``."""
        now = self._clock()
        seen = self._seen
        if seen is not None and now - seen[0] < SHARED_READ_S:
            return seen
        shared = self._shared
        state = shared.state
        opened = shared.opened_at if state == "open" else None
        counter = shared.counter if state != UNKNOWN else 0
        self._seen = (now, state, opened, counter)
        return self._seen

    def allow(self) -> bool:
        """May a call go to this provider now? In half-open, True for one probe only."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        was_open = self._opened_at is not None or self._probe_in_flight
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False
        if self._shared is None:
            return
        _, state, _, counter = self._read_shared()
        if was_open or counter or state == "open":
            self._shared.reset_counter()
            self._shared.state = "closed"
            self._seen = None

    def record_failure(self) -> None:
        self._failures += 1
        probe = self._probe_in_flight
        if probe or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probe_in_flight = False
        if self._shared is not None:
            self._shared.increment_counter()
            if probe or self._opened_at is not None or self._shared.counter >= self.threshold:
                self._shared.state = "open"
                self._shared.opened_at = datetime.now(UTC)
            self._seen = None  # our own verdict: read back at once

    def release(self) -> None:
        """The call ended with no verdict on health (e.g. cancelled): free the probe slot."""
        self._probe_in_flight = False


def shared_storage(redis_url: str | None, provider: str, namespace: str = "readloom") -> Any:
    """pybreaker's Redis storage for ``provider``'s breaker, or None (no Redis configured,
    or unreachable at start-up: the breaker then works in-process)."""
    if not redis_url:
        return None
    import redis
    from pybreaker import CircuitRedisStorage

    client = redis.Redis.from_url(
        redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    try:
        return CircuitRedisStorage(
            "closed",
            client,
            namespace=f"{namespace}:breaker:{provider}",
            fallback_circuit_state=UNKNOWN,
        )
    except redis.RedisError as exc:
        log.warning("breaker_shared_unavailable provider=%s error=%s", provider, type(exc).__name__)
        return None
