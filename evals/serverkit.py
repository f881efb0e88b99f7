"""A real ``readloom serve`` in a subprocess, for the scripts that drive it over HTTP
(``bench_load.py``, ``fuzz_api.py``): a free loopback port, readiness, a clean stop."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

SERVE = "import sys; from readloom.api.cli import serve; serve(sys.argv[1:])"
READY_TIMEOUT_S = 300.0


class ServerExited(RuntimeError):
    """The server stopped before it was ready; its log says why."""


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(
    home: Path, env: dict[str, str], extra_args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """Start the server with ``env``, wait until ``/readyz`` answers 200, stop it on exit
    (SIGTERM, then kill after 30 s). Its output goes to ``home/server.log``."""
    port, log_path = free_port(), home / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, "--port", str(port), "--log-level", "warning", *extra_args],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        server = Server(f"http://127.0.0.1:{port}", proc.pid, log_path)
        try:
            _wait_ready(proc, server)
            yield server
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_ready(proc: subprocess.Popen[bytes], server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerExited(f"server exited; see {server.log}")
        try:
            if httpx.get(server.base_url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServerExited(f"server not ready after {READY_TIMEOUT_S:.0f} s; see {server.log}")
