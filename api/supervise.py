"""The exit guarantee of ``readloom serve``, kept out of the server's own process.

The in-process watchdog (``api/shutdown.py``) is a Python thread armed by a Python signal
handler: both need the interpreter lock. A C call that holds it (``dlopen`` of torch
during a lazy import, a model load on a busy machine) delays the handler and freezes the
thread, so the watchdog is armed late or fires late (seen: an exit 21 s after SIGTERM with
no watchdog line). So ``serve`` runs the server as a child of this small supervisor, which
loads nothing heavy: it receives the signals, forwards each one (the second still means
"exit at once"), and at grace + ``KILL_SLACK_S`` after the first it ends the child with
SIGKILL, which needs no cooperation from it. Killing is safe for the same reason the
watchdog is: nothing is acknowledged before it is committed, and every lease
(``storage/leases.py``) dies with its process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

CHILD_FD_ENV = "READLOOM_SERVE_LISTEN_FD"  # set for the child: the inherited listening socket
KILL_SLACK_S = 4.0  # after the in-process watchdog (grace + 3 s), within grace + 5 s
_CHILD_MAIN = "import sys; from readloom.cli import main; sys.argv[0] = 'readloom'; main()"
_PR_SET_PDEATHSIG = 1


def inherited_socket() -> socket.socket | None:
    """The listening socket handed down by the supervisor, in the child; else None."""
    fd = os.environ.pop(CHILD_FD_ENV, None)
    return None if fd is None else socket.socket(fileno=int(fd))


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """If the supervisor itself is killed, the server goes with it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def serve_command(args: list[str]) -> list[str]:
    """The child's command line: ``readloom <args>`` with this interpreter."""
    return [sys.executable, "-c", _CHILD_MAIN, *args]


def supervise(command: list[str], sock: socket.socket, grace_s: float) -> int:
    """Run ``command`` as a child serving on ``sock``; its exit code, or 1 if it had to
    be killed. The child gets its own process group, so a terminal's Ctrl-C reaches
    it once (forwarded), not twice."""
    kill_at: list[float] = []
    early: list[int] = []  # signals that came before the child existed
    children: list[subprocess.Popen[bytes]] = []

    def forward(sig: int, frame: FrameType | None) -> None:
        if not kill_at:
            kill_at.append(time.monotonic() + grace_s + KILL_SLACK_S)
        if not children:
            early.append(sig)
        elif children[0].poll() is None:
            children[0].send_signal(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    fd = sock.fileno()
    env = {**os.environ, CHILD_FD_ENV: str(fd)}
    child = subprocess.Popen(
        command,
        env=env, pass_fds=(fd,), process_group=0, preexec_fn=_die_with_parent,
    )  # fmt: skip
    children.append(child)
    sock.close()
    for sig in early:
        child.send_signal(sig)
    while (code := child.poll()) is None:
        if kill_at and time.monotonic() >= kill_at[0]:
            sys.stderr.write(
                f"shutdown_overdue supervisor: server pid {child.pid} still running "
                f"{grace_s + KILL_SLACK_S:.1f} s after the signal; killed\n"
            )
            sys.stderr.flush()
            child.kill()
            child.wait()
            return 1
        time.sleep(0.05)
    return code if code >= 0 else 128 - code
