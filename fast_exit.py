"""End a finished CLI command without the interpreter's teardown (issue 17).

Tearing down a process that loaded torch, spaCy, Presidio and Chroma costs ~1.5 s of CPU
(freeing every model object one by one) and achieves nothing the OS does not do. So a
command that opted in with :func:`allow` ends here: everything that holds data is closed
first (Chroma, SQLAlchemy pools, telemetry, log handlers, stdout/stderr, ``atexit`` hooks),
then ``os._exit``. If any of that fails, or a non-daemon thread is still working, the
process takes the ordinary exit instead, so nothing written is ever lost to speed.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

_allowed = False
_closers: list[Callable[[], None]] = []
_JOIN_S = 2.0


def allow() -> None:
    """The running command may end with ``os._exit`` once it has returned."""
    global _allowed
    _allowed = True


def on_close(fn: Callable[[], None]) -> None:
    """Run ``fn`` before a fast exit (in reverse order of registration)."""
    _closers.append(fn)


def _status(code: object) -> int:
    """What ``sys.exit(code)`` would exit with (a message goes to stderr, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _close_everything() -> None:
    while _closers:
        _closers.pop()()
    if "readloom.storage.stores" in sys.modules:
        sys.modules["readloom.storage.stores"].forget_store_dbs()
    if "readloom.guardrails.policy" in sys.modules:
        sys.modules["readloom.guardrails.policy"].shutdown_pool()
    if "readloom.observability.telemetry" in sys.modules:
        telemetry = sys.modules["readloom.observability.telemetry"].current_telemetry()
        if telemetry is not None:
            telemetry.shutdown()
    atexit._run_exitfuncs()  # logging.shutdown and every library's own hook, as at exit


def _threads_done() -> bool:
    me = threading.current_thread()
    for t in threading.enumerate():
        if t is not me and not t.daemon:
            t.join(timeout=_JOIN_S)
            if t.is_alive():
                return False
    return True


def finish(code: object) -> NoReturn:
    """Exit with ``code`` as ``sys.exit`` would; fast when :func:`allow` was called."""
    if not _allowed:
        raise SystemExit(code)
    try:
        _close_everything()
        status = _status(code)
        sys.stdout.flush()
        sys.stderr.flush()
        done = _threads_done()
    except Exception:  # noqa: BLE001 - the ordinary exit path closes what is left
        raise SystemExit(code) from None
    if not done:
        raise SystemExit(status)
    os._exit(status)
