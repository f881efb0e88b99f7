"""Turns first: background work in this process steps aside while a child's turn runs.

Python threads share one interpreter lock. A teacher's 60,000-character upload analysed
on a worker thread (spaCy and Presidio are Python that holds the lock) took half of every
concurrent turn's time, so a turn took twice as long during an ingest. Work marked
``background()`` calls ``step_aside`` between its pieces: while turns are coming it waits,
the lock released, until they stop or it has waited four times as long as its last piece
took, so an upload slows (to a fifth of the time in a storm of turns) but always goes on. Nothing in the standard library or a well-kept package gives threads of
one interpreter priorities, hence this module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SHARE = 0.2  # while turns keep coming, background work gets about this share of time
MIN_WAIT_S, MAX_WAIT_S = 0.05, 0.5  # bounds of one wait (a model's reply takes seconds)
QUIET_S = 0.01  # no turn for this long: the class is not sending back to back right now

_changed = threading.Condition()
_turns = 0
_last_end = 0.0  # time.monotonic() when the last turn ended
_background: ContextVar[bool] = ContextVar("readloom_background", default=False)


@contextmanager
def turn() -> Iterator[None]:
    """Mark a turn in flight (entered and left on the event loop; never blocks it)."""
    global _turns, _last_end
    with _changed:
        _turns += 1
    try:
        yield
    finally:
        with _changed:
            _turns -= 1
            _last_end = time.monotonic()
            _changed.notify_all()


def turns_in_flight() -> int:
    return _turns


@contextmanager
def background() -> Iterator[None]:
    """Mark the work of this thread (and what it calls) as able to wait for turns."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def step_aside(at_least_s: float = 0.0, *, worked_s: float = 0.0) -> float:
    """Between two pieces of work: sleep ``at_least_s``. Background work then waits until
    no turn has run for ``QUIET_S`` (the next of a class's turns often follows at once),
    for at most what keeps it to ``SHARE`` of the time after a piece of ``worked_s``.
    Returns the seconds spent."""
    start = time.monotonic()
    if at_least_s > 0:
        time.sleep(at_least_s)
    if not _background.get():
        return time.monotonic() - start
    longest = min(MAX_WAIT_S, max(MIN_WAIT_S, worked_s * (1 - SHARE) / SHARE))
    deadline = start + longest
    with _changed:
        while (now := time.monotonic()) < deadline:
            if _turns:
                wait = deadline - now
            elif (quiet := now - _last_end) < QUIET_S:
                wait = QUIET_S - quiet
            else:
                break
            _changed.wait(min(wait, deadline - now))
    return time.monotonic() - start
