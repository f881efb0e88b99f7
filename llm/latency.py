"""How long each provider usually takes, so the router knows when one is being slow.

A rolling window of successful attempt durations per (provider, task): a tutoring reply
and a ten-question set have very different usual latencies. ``hedge_after`` is the
window's ``quantile`` (p95 by default) once enough calls have been seen, and a fixed
initial guess before that. Kept in-process on purpose: latency is a property of this
worker's network path, and a few dozen samples settle it within a minute of traffic.
"""

from __future__ import annotations

from collections import deque

WINDOW = 64
MIN_SAMPLES = 8
FLOOR_S = 0.25  # never hedge sooner: jitter on a fast provider is not slowness


class LatencyTracker:
    def __init__(self, *, initial_s: float, quantile: float) -> None:
        self.initial_s = initial_s
        self.quantile = quantile
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def record(self, provider: str, task: str, seconds: float) -> None:
        self._seen.setdefault((provider, task), deque(maxlen=WINDOW)).append(seconds)

    def usual(self, provider: str, task: str) -> float | None:
        """The ``quantile`` of recent successful durations, or None while too few."""
        seen = self._seen.get((provider, task))
        if not seen or len(seen) < MIN_SAMPLES:
            return None
        ordered = sorted(seen)
        return ordered[min(len(ordered) - 1, int(self.quantile * len(ordered)))]

    def hedge_after(self, provider: str, task: str) -> float:
        usual = self.usual(provider, task)
        return self.initial_s if usual is None else max(FLOOR_S, usual)
