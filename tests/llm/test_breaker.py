"""Circuit breaker state machine, on a hand-driven clock."""

from __future__ import annotations

import pybreaker

from readloom.llm.breaker import SHARED_READ_S, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker("openai", threshold=threshold, cooldown_s=10.0, clock=clock)


def test_opens_after_threshold_consecutive_failures():
    clock = Clock()
    b = breaker(clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state == "closed"
    b.record_success()  # a success resets the count
    for _ in range(3):
        assert b.allow()
        b.record_failure()
    assert b.state == "open" and not b.allow()


def test_half_open_lets_exactly_one_probe_through_and_success_closes():
    clock = Clock()
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.now += 9.9
    assert not b.allow()
    clock.now += 0.2
    assert b.state == "half_open"
    assert b.allow()  # the probe
    assert not b.allow() and not b.allow()  # everyone else still skips
    b.record_success()
    assert b.state == "closed" and b.allow() and b.allow()


def test_failed_probe_reopens_for_a_full_cooldown():
    clock = Clock()
    b = breaker(clock, threshold=3)
    for _ in range(3):
        b.record_failure()
    clock.now += 10
    assert b.allow()
    b.record_failure()  # one failure is enough in half-open
    assert b.state == "open"
    clock.now += 9
    assert not b.allow()
    clock.now += 1
    assert b.allow()


def test_released_probe_frees_the_slot():
    clock = Clock()
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.now += 10
    assert b.allow() and not b.allow()
    b.release()  # e.g. the caller was cancelled
    assert b.state == "half_open" and b.allow()


class CountingStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's own storage (what Redis holds for several workers), counting reads."""

    def __init__(self) -> None:
        super().__init__("closed")
        self.state_reads = 0

    @property
    def state(self) -> str:
        self.state_reads += 1
        return super().state

    @state.setter
    def state(self, value: str) -> None:
        pybreaker.CircuitMemoryStorage.state.fset(self, value)  # type: ignore[attr-defined]


def test_a_worker_reads_the_shared_state_at_most_twice_a_second_and_its_own_writes_at_once():
    clock, shared = Clock(), CountingStorage()
    a = CircuitBreaker("openai", threshold=3, cooldown_s=10.0, clock=clock, shared=shared)
    b = CircuitBreaker("openai", threshold=3, cooldown_s=10.0, clock=clock, shared=shared)
    for _ in range(100):  # a busy worker: a hundred calls within one read interval
        assert b.allow()
        b.record_success()
    assert shared.state_reads == 1
    for _ in range(3):
        a.record_failure()
    assert a.state == "open" and not a.allow()  # its own verdict, without waiting
    assert b.allow()  # B's view is at most SHARED_READ_S old...
    clock.now += SHARED_READ_S
    assert b.state == "open" and not b.allow()  # ...then it holds for B too
