"""Bounded graceful shutdown of ``readloom serve``: a worker told to stop, stops.

uvicorn stops accepting on SIGTERM/SIGINT, lets open requests finish for
``timeout_graceful_shutdown`` (``settings.shutdown_grace_s``) and cancels them after. It
does not bound what follows: the app's own shutdown (lifespan), asyncio's clean-up and the
interpreter's exit (threads, ``atexit`` hooks), and a second SIGTERM does nothing. Here:

- ``GracefulServer``: the first signal marks the runtime as draining (``/readyz`` answers
  503, so a load balancer stops sending) and arms a watchdog; a second signal exits at
  once. The watchdog fires ``WATCHDOG_SLACK_S`` after the grace period: it logs what still
  runs (threads and asyncio tasks, by name and place, never data) and ends the process.
  Exiting there is safe because nothing is acknowledged before it is durably committed
  (see ``storage/db.py``), the same guarantee that makes ``kill -9`` safe. This watchdog
  is a Python thread, so a C call holding the interpreter lock can delay it; the bound
  itself is kept from outside, by the supervisor (``api/supervise.py``).
- ``Deadline`` and ``bounded``: each shutdown step (jobs, outbox, leases, stores,
  pools) gets what is left of ``CLEANUP_BUDGET_S``, and one step that hangs is logged and
  left behind instead of holding every later one.

Our own code because uvicorn has no hook for either (its ``force_exit`` answers only a
second SIGINT, and nothing bounds the lifespan).
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("readloom.api.shutdown")

CLEANUP_BUDGET_S = 3.0  # background work, stores and pools, after the grace period
WATCHDOG_SLACK_S = 3.0  # the process ends at grace + this, whatever still runs
_WATCHDOG_AT: list[float] = []  # when this process's watchdog fires (monotonic), once armed


class Deadline:
    """A point in time that several steps share."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def remaining(self, floor: float = 0.05) -> float:
        return max(floor, self.at - time.monotonic())


def cleanup_deadline() -> Deadline:
    """``CLEANUP_BUDGET_S``, or less when the watchdog is nearer: a loop that was slow to
    notice the signal (a busy machine) leaves the clean-up less time, not the process more."""
    seconds = CLEANUP_BUDGET_S
    if _WATCHDOG_AT:
        seconds = min(seconds, _WATCHDOG_AT[0] - time.monotonic() - 0.75)
    return Deadline(max(0.5, seconds))


async def bounded(name: str, step: Callable[[], Awaitable[Any]], deadline: Deadline) -> None:
    """Run one shutdown step within the deadline; a step that fails or overruns is logged
    and left behind, so the next one still runs. (Not ``asyncio.wait_for``: on timeout it
    waits, unbounded, for the step to acknowledge its cancellation.)"""
    task = asyncio.ensure_future(step())
    done, _ = await asyncio.wait({task}, timeout=deadline.remaining())
    if not done:
        task.cancel()
        log.error("shutdown_step_timeout step=%s", name)
        return
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("shutdown_step_error step=%s type=%s", name, type(exc).__name__)


async def cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


class GracefulServer(uvicorn.Server):
    """``uvicorn.Server`` with a second-signal exit and an exit watchdog."""

    def __init__(
        self, config: uvicorn.Config, *, grace_s: float, on_drain: Callable[[], None] | None
    ):
        super().__init__(config)
        self.grace_s = grace_s
        self.on_drain = on_drain
        self._stopping = False
        self._signal_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        """uvicorn re-raises the signal it caught once it is done, which kills the process
        before ``exit_process`` can flush telemetry; the shutdown is ours to finish."""
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()

    def run(self, sockets: Any = None) -> None:
        """``uvicorn.Server.run`` without ``asyncio.run``'s unbounded clean-up: that waits
        for every task left and then joins the default executor's threads, one of which
        can still be parsing a passage for a request cut at the grace limit (seen holding
        an exit past the watchdog). Left-over tasks get the clean-up budget; threads are
        left to the process exit."""
        factory = self.config.get_loop_factory()
        loop = factory() if factory is not None else asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.serve(sockets))
        finally:
            try:
                _cancel_left_over(loop, cleanup_deadline())
            finally:
                loop.close()  # the executor shuts down without waiting for its threads

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def shutdown(self, sockets: Any = None) -> None:
        # The grace period runs from the signal: time the loop took to notice it (a long
        # synchronous step, a busy machine) comes out of it.
        if self._stopping:
            left = self._signal_at + self.grace_s - time.monotonic()
            self.config.timeout_graceful_shutdown = max(0.1, left)  # type: ignore[assignment]
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._stopping:
            log.warning("shutdown_forced signal=%s", signal.Signals(sig).name)
            _flush_logs()
            os._exit(128 + sig)
        self._stopping = True
        self._signal_at = time.monotonic()
        _WATCHDOG_AT[:] = [self._signal_at + self.grace_s + WATCHDOG_SLACK_S]
        log.info("shutdown_begin signal=%s grace_s=%.1f", signal.Signals(sig).name, self.grace_s)
        if self.on_drain is not None:
            self.on_drain()
        threading.Thread(
            target=self._watchdog, name="readloom-shutdown-watchdog", daemon=True
        ).start()
        super().handle_exit(sig, frame)

    def _watchdog(self) -> None:
        time.sleep(max(0.0, _WATCHDOG_AT[0] - time.monotonic()))
        threads, tasks = _thread_names(), _task_places(self._loop)
        log.error(
            "shutdown_overdue seconds=%.1f threads=%d tasks=%d",
            self.grace_s + WATCHDOG_SLACK_S, threads.count(",") + 1, tasks.count(";") + 1,
        )  # fmt: skip
        # Names and code locations only (the log's free-text filter would withhold them).
        sys.stderr.write(f"shutdown_overdue threads: {threads}\nshutdown_overdue tasks: {tasks}\n")
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        _flush_logs()
        os._exit(1)


def exit_process(code: int = 0, *, flush_s: float = 2.0) -> None:
    """End the process once the app has shut down: telemetry and logs flushed (bounded),
    then ``os._exit``. A normal interpreter exit would then tear down every loaded module
    (torch, Chroma's native client, spaCy), which was seen to take 15 s and more, past any
    watchdog (daemon threads are frozen by then). Everything that matters is already
    committed and closed by the lifespan."""
    from readloom.observability.telemetry import current_telemetry

    telemetry = current_telemetry()
    if telemetry is not None:
        flusher = threading.Thread(target=telemetry.shutdown, name="telemetry-flush", daemon=True)
        flusher.start()
        flusher.join(timeout=flush_s)
    _flush_logs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _cancel_left_over(loop: asyncio.AbstractEventLoop, deadline: Deadline) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=deadline.remaining()))
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), 0.5))


def _thread_names() -> str:
    alive = [t for t in threading.enumerate() if t is not threading.current_thread()]
    return ",".join(sorted(f"{t.name}{'' if t.daemon else '(non-daemon)'}" for t in alive)) or "-"


def _task_places(loop: asyncio.AbstractEventLoop | None) -> str:
    """Each pending task's name, where it started and where it waits, for the operator."""
    if loop is None or loop.is_closed():
        return "-"
    try:
        tasks = list(asyncio.all_tasks(loop))
    except RuntimeError:  # the set changed while we read it (another thread)
        return "unreadable"
    return ";".join(sorted(_place(t) for t in tasks)) or "-"


def _place(task: asyncio.Task[Any]) -> str:
    frames = []
    coro: Any = task.get_coro()
    while coro is not None and len(frames) < 100:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    if not frames:
        return task.get_name()

    def where(f: FrameType) -> str:
        parts = f.f_code.co_filename.replace(os.sep, "/").split("/")
        return f"{f.f_code.co_name}({'/'.join(parts[-2:])}:{f.f_lineno})"

    return f"{task.get_name()}:{where(frames[0])}>{where(frames[-1])}"


def _flush_logs() -> None:
    for h in logging.getLogger().handlers:
        with contextlib.suppress(Exception):  # exiting: a broken stream must not stop it
            h.flush()
