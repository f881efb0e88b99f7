"""Circuit breaker state machine, on a hand-driven clock."""

from __future__ import annotations

from readloom.llm.breaker import CircuitBreaker


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
