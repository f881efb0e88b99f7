"""A server killed with SIGKILL mid-session and restarted has lost no acknowledged
message, and a client retrying its unanswered requests gets each answered exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apitest_support import BACKENDS, PG_URL, Server, free_port, fresh_postgres_database, wait_ready
from sqlalchemy import select

from readloom.settings import Settings
from readloom.storage.db import Database
from readloom.storage.models import Message

SERVE = "import sys; from readloom.api.cli import serve; serve(sys.argv[1:])"


class Proc:
    def __init__(self, env: dict[str, str], port: int, log: Path):
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVE, "--port", str(self.port), "--log-level", "warning"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_ready(f"http://127.0.0.1:{self.port}", proc=self.proc)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(params=BACKENDS)
def proc_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Proc, Server]]:
    def run(url: str | None) -> Iterator[tuple[Proc, Server]]:
        home = tmp_path / "home"
        env = {**os.environ, "READLOOM_HOME": str(home), "READLOOM_RATE_LIMIT_PER_MINUTE": "100000"}
        if url:
            env["READLOOM_DATABASE_URL"] = url
        port = free_port()
        p = Proc(env, port, tmp_path / "server.log")
        p.start()
        try:
            yield (
                p,
                Server(
                    f"http://127.0.0.1:{port}", Settings(home=home, database_url=url), request.param
                ),
            )
        finally:
            p.stop()

    if request.param == "sqlite":
        yield from run(None)
    else:
        assert PG_URL
        with fresh_postgres_database(PG_URL) as url:
            yield from run(url)


def _retry(c: httpx.Client, path: str, text: str, key: str) -> httpx.Response:
    """What a client does: retry with the same key, honouring 409 + Retry-After (a claim
    of the killed server is taken over at once: its lease died with it)."""
    for _ in range(20):
        r = c.post(path, json={"text": text}, headers={"Idempotency-Key": key})
        if r.status_code != 409:
            return r
        assert r.json()["code"] == "idempotency_in_progress"
        time.sleep(min(30, int(r.headers["retry-after"])))
    return r


def _rows(settings: Settings) -> list[Message]:
    async def run() -> list[Message]:
        db = Database(settings)
        try:
            async with db.reader() as s:
                return list((await s.execute(select(Message).order_by(Message.id))).scalars())
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_kill_9_loses_no_acknowledged_message(proc_server: tuple[Proc, Server]) -> None:
    proc, server = proc_server
    partner_key = server.key("restart", "partner")
    with server.client(partner_key) as c:
        passage = c.get("/v1/passages").json()["items"][0]["passage_id"]
        sessions = [
            c.post(
                "/v1/sessions", json={"student_id": f"s{i}", "grade": 4, "passage_id": passage}
            ).json()["id"]
            for i in range(4)
        ]
    acked: dict[str, dict] = {}  # idempotency key -> acknowledged response body
    unacked: dict[str, tuple[str, str]] = {}  # key -> (session, text) never answered
    lock = threading.Lock()
    stop = threading.Event()

    def student_loop(n: int, sid: str) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {partner_key}"}) as cl:  # fmt: skip
            for i in range(1000):  # bounded; stops at the kill
                if stop.is_set():
                    return
                key, text = f"{sid}-{i}", f"Message {i}: I think the main character is kind."
                try:
                    r = cl.post(f"/v1/sessions/{sid}/messages", json={"text": text},
                                headers={"Idempotency-Key": key})  # fmt: skip
                except httpx.HTTPError:
                    with lock:
                        unacked[key] = (sid, text)
                    return
                assert r.status_code == 200, r.text
                with lock:
                    acked[key] = r.json()

    threads = [
        threading.Thread(target=student_loop, args=(n, sid)) for n, sid in enumerate(sessions)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while len(acked) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill9()  # mid-session: requests are in flight
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(acked) >= 12

    proc.start()  # same home and database
    with server.client(partner_key) as c:
        for key, body in acked.items():
            hist = c.get(f"/v1/sessions/{body['session_id']}/messages").json()["items"]
            match = [h for h in hist if h["seq"] == body["seq"]]
            assert len(match) == 1 and match[0]["reply"] == body["reply"], key
        # the client retries what was never answered: each is answered, once
        for key, (sid, text) in unacked.items():
            r = _retry(c, f"/v1/sessions/{sid}/messages", text, key)
            assert r.status_code == 200, r.text
        # and a retry of something already answered is replayed, not re-run
        key, body = next(iter(acked.items()))
        sid = body["session_id"]
        text = f"Message {key.rsplit('-', 1)[1]}: I think the main character is kind."
        again = c.post(f"/v1/sessions/{sid}/messages", json={"text": text},
                       headers={"Idempotency-Key": key})  # fmt: skip
        assert again.json() == body

    rows = _rows(server.settings)
    keys = [r.idempotency_key for r in rows]
    assert len(keys) == len(set(keys)), "a message was recorded twice"
    assert set(acked) | set(unacked) == set(keys)
    for sid in sessions:
        seqs = sorted(r.seq for r in rows if r.session_id == sid)
        assert seqs == list(range(1, len(seqs) + 1))
