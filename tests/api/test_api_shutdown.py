"""``readloom serve`` told to stop, stops: within the grace period plus 5 s after any mix
of requests, with nothing acknowledged lost and nothing half-done acknowledged; a second
signal exits at once; and when something hangs anyway, the watchdog ends the process and
says what was still running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apitest_support import BACKENDS, PG_URL, fresh_postgres_database
from shutdown_support import (
    ACTIONS,
    check_consistent,
    run_in_flight,
    settle_after_restart,
    started,
    wait_exit,
)

from readloom.api.shutdown import WATCHDOG_SLACK_S

GRACE_S = 3.0
BOUND_S = GRACE_S + 5.0  # the goal: exit within the grace period plus 5 s


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    assert PG_URL
    with fresh_postgres_database(PG_URL) as url:
        yield url


def test_sigterm_after_every_kind_of_request(tmp_path: Path, database_url: str | None) -> None:
    with started(tmp_path / "home", grace_s=GRACE_S, database_url=database_url) as mix:
        for action in ACTIONS.values():
            action(mix)  # each asserts the status it must get
        assert mix.statuses["ingest_failing"] == [422]  # a blank passage: refused, not a 500
        # Still running when the signal comes: a client on an open stream, a turn, a job.
        threads = run_in_flight(mix, ["sse_hold", "turn", "question_job", "alert_ack"])
        time.sleep(0.3)
        took = mix.server.stop(signal.SIGTERM, timeout_s=BOUND_S)
        assert took is not None, f"still running {BOUND_S} s after SIGTERM:\n{mix.server.tail()}"
        for t in threads:
            t.join(timeout=30)
        log = mix.server.log.read_text()
        assert "shutdown_complete" in log and "shutdown_overdue" not in log, mix.server.tail()
        assert check_consistent(mix) == []
        # Restarted: the accepted jobs finish, the pending deliveries arrive.
        assert settle_after_restart(mix) == []
        assert mix.server.stop(signal.SIGINT, timeout_s=BOUND_S) is not None


# --- the server's signal handling, on a tiny app (no models to load) ---------------------

TINY_APP = textwrap.dedent(
    """
    import asyncio, sys, uvicorn
    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    from readloom.api.shutdown import GracefulServer

    port, grace, mode = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

    @asynccontextmanager
    async def lifespan(app):
        yield
        if mode == "hang":  # a shutdown step that never ends, shielded from cancellation
            await asyncio.shield(asyncio.get_running_loop().create_future())

    app = FastAPI(lifespan=lifespan)
    arrived = []

    @app.get("/arrived")
    async def count():
        return {"n": len(arrived)}

    @app.get("/slow")
    async def slow():
        arrived.append(1)
        await asyncio.sleep(60)
        return {"ok": True}

    @app.get("/quick")
    async def quick():
        arrived.append(1)
        await asyncio.sleep(0.5)
        return {"ok": True}

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info",
                            timeout_graceful_shutdown=grace)
    GracefulServer(config, grace_s=grace, on_drain=None).run()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny(tmp_path: Path, grace: float, mode: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port, log = _free_port(), tmp_path / "tiny.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", TINY_APP, str(port), str(grace), mode],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):  # bounded: 20 s
        try:
            httpx.get(base + "/arrived", timeout=1)
            return proc, base, log
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError(log.read_text())


def _in_flight(base: str, path: str) -> dict[str, object]:
    import threading

    out: dict[str, object] = {}

    def go() -> None:
        try:
            out["status"] = httpx.get(base + path, timeout=30).status_code
        except httpx.HTTPError as exc:
            out["error"] = type(exc).__name__

    before = httpx.get(base + "/arrived", timeout=5).json()["n"]
    t = threading.Thread(target=go, daemon=True)
    t.start()
    out["thread"] = t
    for _ in range(100):  # bounded: until the server has the request (at most 10 s)
        if httpx.get(base + "/arrived", timeout=5).json()["n"] > before:
            return out
        time.sleep(0.1)
    raise TimeoutError("the request never reached the server")


def test_an_in_flight_request_finishes_within_the_grace_period(tmp_path: Path) -> None:
    proc, base, log = _tiny(tmp_path, grace=5.0, mode="ok")
    req = _in_flight(base, "/quick")
    proc.send_signal(signal.SIGTERM)
    assert wait_exit(proc, 10) is not None, log.read_text()
    req["thread"].join(timeout=10)  # type: ignore[attr-defined]
    assert req.get("status") == 200, req


def test_a_request_longer_than_the_grace_period_is_cut_at_it(tmp_path: Path) -> None:
    proc, base, log = _tiny(tmp_path, grace=1.0, mode="ok")
    req = _in_flight(base, "/slow")
    proc.send_signal(signal.SIGTERM)
    took = wait_exit(proc, 1.0 + 5.0)
    assert took is not None and took >= 0.9, log.read_text()
    req["thread"].join(timeout=10)  # type: ignore[attr-defined]
    assert req.get("status") != 200  # cut short (an error or no answer): never acknowledged


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    proc, base, log = _tiny(tmp_path, grace=30.0, mode="ok")
    _in_flight(base, "/slow")  # would hold the first shutdown for the whole grace period
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert proc.poll() is None  # still draining
    proc.send_signal(signal.SIGTERM)
    assert wait_exit(proc, 3.0) is not None, log.read_text()
    assert "shutdown_forced" in log.read_text()


def test_the_watchdog_ends_a_shutdown_that_hangs(tmp_path: Path) -> None:
    proc, _, log = _tiny(tmp_path, grace=1.0, mode="hang")
    proc.send_signal(signal.SIGTERM)
    took = wait_exit(proc, 1.0 + 5.0)
    assert took is not None and took >= 1.0 + WATCHDOG_SLACK_S - 0.5, log.read_text()
    text = log.read_text()
    assert "shutdown_overdue" in text and "lifespan/on.py" in text  # says what was waiting
    assert proc.returncode == 1
