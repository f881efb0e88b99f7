"""A turn's latency budget, shared by every model call the turn makes.

The service opens ``turn_budget(seconds)`` around a tutoring turn or a question set; the
failover router reads ``turn_deadline()`` and gives each call only what the turn has
left, so three calls in one turn cannot each spend a whole budget. A context variable,
so it follows the turn into LangGraph's node tasks and worker threads, and concurrent
turns never see each other's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("readloom_turn_deadline", default=None)


@contextmanager
def turn_budget(seconds: float) -> Iterator[float]:
    """Run the body under a deadline ``seconds`` from now (``time.monotonic``); nested
    budgets never extend an outer one."""
    deadline = time.monotonic() + seconds
    outer = _deadline.get()
    if outer is not None:
        deadline = min(deadline, outer)
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


def turn_deadline() -> float | None:
    """The current turn's deadline on ``time.monotonic``, or None outside a turn."""
    return _deadline.get()
