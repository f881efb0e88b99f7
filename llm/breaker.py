"""A circuit breaker per provider, so a dead provider costs nothing once it is known dead.

closed --(``threshold`` consecutive failures)--> open --(``cooldown_s``)--> half-open;
half-open lets exactly one probe through: success closes, failure reopens for another
cool-down. Everything runs on one event loop, so plain attributes suffice (no locks);
the router checks ``allow()`` before every attempt and reports each outcome.

Small and home-made on purpose: the router needs a non-blocking "may I call?" check
before each attempt, which the decorator-style libraries do not expose.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

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
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probe_in_flight or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probe_in_flight = False

    def release(self) -> None:
        """The call ended with no verdict on health (e.g. cancelled): free the probe slot."""
        self._probe_in_flight = False
