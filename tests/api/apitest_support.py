"""Helpers shared by the API tests: servers (thread or subprocess), keys, fresh Postgres
databases and the RFC 9457 problem assertion. Imported by name (``apitest_support``):
``conftest.py`` puts this folder on ``sys.path``."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from readloom.api.auth import create_key
from readloom.api.config import ApiConfig
from readloom.settings import Settings
from readloom.storage.db import Database

PG_URL = os.environ.get("READLOOM_TEST_POSTGRES_URL")
PG_SKIP = 'READLOOM_TEST_POSTGRES_URL is not set (run: eval "$(bash .ci/postgres.sh)")'

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason=PG_SKIP)]
    ),
]


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    import psycopg

    url = make_url(admin_url)
    name = f"rl_test_{uuid.uuid4().hex[:12]}"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE ends our own leftover connections; an autovacuum worker busy on the database
        # (it runs as the superuser, whom we may not signal) is waited out, a bounded while
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for attempt in range(40):
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    break
                except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                    if attempt == 39:
                        raise
                    time.sleep(0.25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base_url: str, timeout_s: float = 300.0, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            r = httpx.get(base_url + "/readyz", timeout=5)
            last = r.text
            if r.status_code == 200:
                return
            if '"error:' in r.text:
                raise RuntimeError(f"server failed to load: {r.text}")
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise TimeoutError(f"server not ready after {timeout_s}s: {last}")


@dataclass
class Server:
    """A running readloom API plus helpers to mint keys for fresh tenants."""

    base_url: str
    settings: Settings
    backend: str

    def key(self, tenant: str, role: str, subject: str | None = None) -> str:
        async def _mint() -> str:
            db = Database(self.settings)
            try:
                new = await create_key(db, tenant=tenant, role=role, subject=subject)  # type: ignore[arg-type]
                return new.key
            finally:
                await db.dispose()

        return asyncio.run(_mint())

    def client(self, key: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=120, **kw)


class ThreadServer:
    """uvicorn in a background thread of the test process."""

    def __init__(self, app: Any):
        import uvicorn

        # Bound here and handed to uvicorn: no window in which another process (or test)
        # can take the port between choosing it and listening on it.
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def start_thread_server(
    settings: Settings, services: Any, config: ApiConfig | None = None
) -> tuple[ThreadServer, str]:
    from readloom.api.app import create_app

    ts = ThreadServer(create_app(settings, config=config, services=services))
    ts.start()
    base = f"http://127.0.0.1:{ts.port}"
    wait_ready(base)
    return ts, base


@dataclass
class World:
    """One tenant: teacher t1 teaches s1 and s2 (class_id); teacher t2 teaches s3
    ("other_student"); "stranger" is an admin of another tenant."""

    server: Server
    tenant: str
    admin: httpx.Client
    partner: httpx.Client
    teacher: httpx.Client
    other_teacher: httpx.Client
    student: httpx.Client
    other_student: httpx.Client
    stranger: httpx.Client
    class_id: str
    passage_id: str
    extra: dict[str, Any] = field(default_factory=dict)

    def clients(self) -> dict[str, httpx.Client]:
        return {
            "admin": self.admin, "partner": self.partner, "teacher": self.teacher,
            "other_teacher": self.other_teacher, "student": self.student,
            "other_student": self.other_student, "stranger": self.stranger,
        }  # fmt: skip

    def close(self) -> None:
        for c in self.clients().values():
            c.close()


def make_world(server: Server, tenant: str) -> World:
    admin = server.client(server.key(tenant, "admin"))
    partner = server.client(server.key(tenant, "partner"))

    def minted(role: str, subject: str) -> httpx.Client:
        r = partner.post("/v1/keys", json={"role": role, "subject": subject})
        assert r.status_code == 201, r.text
        return server.client(r.json()["key"])

    classes = []
    for name, teacher, students in (("Grade 4 A", "t1", ["s1", "s2"]), ("Grade 4 B", "t2", ["s3"])):
        r = partner.post(
            "/v1/classes", json={"name": name, "teacher_ids": [teacher], "student_ids": students}
        )
        assert r.status_code == 201, r.text
        classes.append(r.json()["id"])
    passages = admin.get("/v1/passages").json()["items"]
    assert passages, "the shipped corpus should be loaded"
    return World(
        server=server, tenant=tenant, admin=admin, partner=partner,
        teacher=minted("teacher", "t1"), other_teacher=minted("teacher", "t2"),
        student=minted("student", "s1"), other_student=minted("student", "s3"),
        stranger=server.client(server.key(f"{tenant}-other", "admin")),
        class_id=classes[0], passage_id=passages[0]["passage_id"],
    )  # fmt: skip


def assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and code)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:readloom:problem:")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if code:
        assert body["code"] == code, body
    return body
