"""A server killed with SIGKILL in the middle of an ingest (after the ownership claim, while
the passage is being sealed, embedded or written to Chroma): the passage is invisible to
every role of every district, no file holds the text's personal data, and the client's
retry with the same Idempotency-Key, on the restarted server, stores it."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import httpx
from apitest_support import Server, World, free_port, make_world
from security_support import leaked
from test_api_restart import Proc
from test_sealed_at_rest import _files_with, essay

from readloom.settings import Settings


def _long_essay() -> tuple[str, list[str]]:
    """A long pasted essay (many chunks and sentences: the write takes a while)."""
    text, values = essay()
    days = [
        f"On day {i} we walked to the frozen lake, counted {i + 2} pine trees and drank "
        f"warm cocoa by the fire while the wind whistled through the cabin."
        for i in range(1, 260)
    ]
    return text + " " + " ".join(days), values


def _sql(path: Path, query: str, *args: object) -> list[tuple]:
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(query, args).fetchall()
    except sqlite3.OperationalError:  # a table not created yet
        return []
    finally:
        conn.close()


def _claim(home: Path, pid: str) -> list[tuple]:
    return _sql(
        home / "readloom.sqlite",
        "SELECT tenant_id, ready FROM tenant_passages WHERE passage_id = ?",
        pid,
    )


def _in_chroma(home: Path, pid: str) -> int:
    rows = _sql(
        home / "chroma" / "chroma.sqlite3",
        "SELECT count(*) FROM embedding_metadata WHERE key = 'passage_id' AND string_value = ?",
        pid,
    )
    return int(rows[0][0]) if rows else 0


def _invisible(worlds: list[World], pid: str) -> dict[str, int]:
    seen = {}
    for world in worlds:
        for role, client in world.clients().items():
            status = client.get(f"/v1/passages/{pid}").status_code
            listed = client.get("/v1/passages", params={"limit": 1000}).json()["items"]
            if status != 404 or any(p["passage_id"] == pid for p in listed):
                seen[f"{world.tenant}:{role}"] = status
    return seen


def test_kill9_mid_ingest_leaves_nothing_visible_or_readable(tmp_path: Path):
    home = tmp_path / "home"
    env = {
        **os.environ, "READLOOM_HOME": str(home), "READLOOM_PROVIDERS": "offline",
        "READLOOM_RATE_LIMIT_PER_MINUTE": "100000",
    }  # fmt: skip
    port = free_port()
    log = tmp_path / "server.log"
    proc = Proc(env, port, log)
    proc.start()
    try:
        server = Server(f"http://127.0.0.1:{port}", Settings(home=home), "sqlite")
        a, b = make_world(server, "kill-a"), make_world(server, "kill-b")
        text, values = _long_essay()
        pid = f"essay-{uuid.uuid4().hex[:8]}"
        body = {"passages": [{"passage_id": pid, "title": "My Winter", "grade": 4, "text": text}]}
        key = {"Idempotency-Key": f"ingest-{pid}"}
        teacher_key = a.teacher.headers["Authorization"]

        def post() -> None:
            try:
                with httpx.Client(base_url=server.base_url, timeout=300) as c:
                    c.post("/v1/passages", json=body,
                           headers={**key, "Authorization": teacher_key})  # fmt: skip
            except httpx.HTTPError:
                pass  # the server is killed under it

        sender = threading.Thread(target=post, daemon=True)
        sender.start()
        deadline = time.monotonic() + 120
        while not _claim(home, pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _claim(home, pid) == [("kill-a", 0)], "the claim should be committed first"
        deadline = time.monotonic() + 120
        while _in_chroma(home, pid) == 0 and time.monotonic() < deadline:
            if _claim(home, pid) != [("kill-a", 0)]:
                break
            time.sleep(0.01)
        proc.kill9()
        sender.join(timeout=30)
        written = _in_chroma(home, pid)
        # killed mid-ingest: the claim is still not ready (Chroma may hold part of it)
        assert _claim(home, pid) == [("kill-a", 0)], "killed too late: the ingest finished"
        # no orphan plaintext: no file under the home (Chroma's database, WAL and index
        # files, the SQLite database) nor the server's log holds the child's data
        assert _files_with(home, values) == {}
        assert leaked(values, log.read_text(errors="replace")) == []

        proc.start()  # the same home, the same port
        assert _invisible([a, b], pid) == {}, f"visible after the crash ({written} written)"
        retry = a.teacher.post("/v1/passages", json=body, headers=key)
        assert retry.status_code == 201, retry.text
        assert _claim(home, pid) == [("kill-a", 1)]
        got = a.teacher.get(f"/v1/passages/{pid}")
        assert got.status_code == 200 and got.json()["text"] == text
        assert a.student.get(f"/v1/passages/{pid}").status_code == 200
        seen = _invisible([b], pid)
        assert set(seen) == set(), seen
        assert _files_with(home, values) == {}
        a.close()
        b.close()
    finally:
        proc.stop()
