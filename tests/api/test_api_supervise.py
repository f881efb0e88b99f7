"""The supervisor of ``readloom serve`` ends a server that cannot end itself: one whose
interpreter is stuck in a C call holding the lock, so that neither its signal handler nor
its watchdog thread can run. And it stays out of the way of a server that stops."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from shutdown_support import wait_exit

from readloom.api.supervise import KILL_SLACK_S

SUPERVISOR = textwrap.dedent(
    """
    import socket, sys
    from readloom.api.supervise import supervise
    grace, child = float(sys.argv[1]), sys.argv[2]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sys.exit(supervise([sys.executable, "-c", child], sock, grace))
    """
)

# A server whose only thread is held in one C call that keeps the interpreter lock and
# never looks at signals (``sum`` over a huge range: C code, no bytecode): its signal handler,
# which would start a watchdog thread as ours does, cannot run, nor could that thread.
STUCK = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGTERM, lambda *a: print("handled", flush=True))
    print("ready", flush=True)
    sum(range(10**13))
    """
)

# A server that stops on the first signal, with an exit code of its own.
POLITE = textwrap.dedent(
    """
    import signal, sys, time
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))
    print("ready", flush=True)
    for _ in range(600):  # bounded: 60 s
        time.sleep(0.1)
    """
)


def _start(tmp_path: Path, grace: float, child: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "supervised.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", SUPERVISOR, str(grace), child],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    for _ in range(300):  # bounded: 30 s for the child to start
        if "ready" in log.read_text():
            return proc, log
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"child never started: {log.read_text()}")


def test_a_server_stuck_in_a_c_call_is_killed_within_the_bound(tmp_path: Path) -> None:
    grace = 1.0
    proc, log = _start(tmp_path, grace, STUCK)
    time.sleep(0.5)  # inside the C call
    proc.terminate()
    took = wait_exit(proc, grace + 5.0)
    text = log.read_text()
    assert took is not None, text
    assert took >= grace + KILL_SLACK_S - 0.5, (took, text)  # not before its time
    assert "shutdown_overdue supervisor" in text and proc.returncode == 1
    assert "handled" not in text  # the in-process handler (and so its watchdog) never ran


def test_a_server_that_stops_keeps_its_exit_code(tmp_path: Path) -> None:
    proc, log = _start(tmp_path, 10.0, POLITE)
    proc.terminate()
    took = wait_exit(proc, 5.0)
    assert took is not None and took < 5.0, log.read_text()
    assert proc.returncode == 7 and "shutdown_overdue" not in log.read_text()
