"""Drive a real ``readloom serve`` through every kind of request, stop it with a signal,
and check the database afterwards. Shared by ``test_api_shutdown.py`` and
``evals/bench_shutdown.py`` (imported by name: ``shutdown_support``).

The server runs in a subprocess on 127.0.0.1 with its own ``READLOOM_HOME``; a webhook
receiver that never answers in time keeps a delivery pending, a test LMS (the one the web
tests use) does an LTI launch, and one client keeps an event stream open while the stop
signal arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

WEB_TESTS = Path(__file__).resolve().parents[1] / "web"
if str(WEB_TESTS) not in sys.path:
    sys.path.insert(0, str(WEB_TESTS))

from lti_platform import FakePlatform  # noqa: E402

from readloom.api.auth import create_key  # noqa: E402
from readloom.settings import Settings  # noqa: E402
from readloom.storage.db import Database, migrate  # noqa: E402

SERVE = "import sys; from readloom.cli import main; sys.argv[0] = 'readloom'; main()"
READY_TIMEOUT_S = 300.0
TEXT = (
    "The lighthouse keeper climbed the stairs every night to light the lamp. Storms came "
    "often, and the ships needed the light to find the harbor safely. One night the lamp "
    "broke, so she carried lanterns up the stairs and kept them burning until dawn."
)
DISCLOSURE = "kids at school keep picking on me"  # a bullying disclosure: a teacher alert


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowReceiver:
    """A partner's webhook endpoint that answers after ``delay_s``: a delivery is in
    flight (or pending a retry) when the server is told to stop. Records what it got."""

    def __init__(self, delay_s: float = 30.0):
        self.delay_s = delay_s
        self.received: list[str] = []  # webhook-id of each delivery that got a 2xx
        self._stop = threading.Event()

    def start(self) -> SlowReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._stop.wait(receiver.delay_s)  # bounded: at most delay_s
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:
                    return  # the sender gave up: not received
                receiver.received.append(self.headers.get("webhook-id", ""))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


@dataclass
class ServerProc:
    home: Path
    port: int
    env: dict[str, str]
    grace_s: float
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVE, "serve", "--port", str(self.port), "--log-level", "info"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.tail()}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server not ready after {READY_TIMEOUT_S:.0f} s: {self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, *, timeout_s: float) -> float | None:
        """Send ``sig``; seconds until the process exited, or None if it outlived
        ``timeout_s`` (it is then killed)."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            return None
        return time.monotonic() - t0

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def server_env(home: Path, database_url: str | None, grace_s: float) -> dict[str, str]:
    env = {
        **os.environ,
        "READLOOM_HOME": str(home),
        "READLOOM_SHUTDOWN_GRACE_S": str(grace_s),
        "READLOOM_WEBHOOK_ALLOW_HTTP": "true",  # the receiver is http://127.0.0.1
        "READLOOM_WEBHOOK_ALLOW_PRIVATE": "true",
        "READLOOM_LOG_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    env.pop("READLOOM_DATABASE_URL", None)
    if database_url:
        env["READLOOM_DATABASE_URL"] = database_url
    return env


def mint(settings: Settings, tenant: str, role: str, subject: str | None = None) -> str:
    async def _mint() -> str:
        db = Database(settings)
        try:
            return (await create_key(db, tenant=tenant, role=role, subject=subject)).key  # type: ignore[arg-type]
        finally:
            await db.dispose()

    return asyncio.run(_mint())


@dataclass
class Mix:
    """Clients for two districts, a session, a webhook receiver and a test LMS; each
    action records what the server acknowledged, for ``check_consistent``."""

    server: ServerProc
    settings: Settings
    receiver: SlowReceiver
    lms: FakePlatform
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    session_id: str = ""
    acked_turns: list[str] = field(default_factory=list)  # session of each answered turn
    acked_jobs: list[str] = field(default_factory=list)
    acked_passages: list[str] = field(default_factory=list)
    acked_alerts: list[str] = field(default_factory=list)
    streams: list[Any] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)

    def client(self, name: str) -> httpx.Client:
        return self.clients[name]

    def setup(self) -> None:
        keys = {
            "admin": ("d1", "admin", None), "partner": ("d1", "partner", None),
            "teacher": ("d1", "teacher", "t1"), "student": ("d1", "student", "s1"),
            "admin2": ("d2", "admin", None),
        }  # fmt: skip
        for name, (tenant, role, subject) in keys.items():
            key = mint(self.settings, tenant, role, subject)
            self.clients[name] = httpx.Client(
                base_url=self.server.base_url,
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
        r = self.client("partner").post(
            "/v1/classes", json={"name": "4A", "teacher_ids": ["t1"], "student_ids": ["s1"]}
        )
        assert r.status_code == 201, r.text
        r = self.client("partner").post("/v1/webhooks", json={"url": self.receiver.url})
        assert r.status_code == 201, r.text
        self.session_id = self._new_session()

    def _new_session(self) -> str:
        r = self.client("partner").post(
            "/v1/sessions",
            json={"student_id": "s1", "grade": 4, "passage_id": "lighthouse-keeper"},
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def close(self) -> None:
        for s in self.streams:
            with contextlib.suppress(Exception):
                s.close()
        for c in self.clients.values():
            c.close()

    def _record(self, action: str, status: int) -> None:
        self.statuses.setdefault(action, []).append(status)

    # --- the actions --------------------------------------------------------------------
    def turn(self) -> None:
        r = self.client("student").post(
            f"/v1/sessions/{self.session_id}/messages", json={"text": "he was scared"}
        )
        self._record("turn", r.status_code)
        assert r.status_code == 200, r.text
        self.acked_turns.append(self.session_id)

    def sse_turn(self) -> None:
        with self.client("student").stream(
            "POST", f"/v1/sessions/{self.session_id}/messages",
            json={"text": "I think the storm"}, headers={"Accept": "text/event-stream"},
        ) as r:  # fmt: skip
            body = r.read().decode()
        self._record("sse_turn", r.status_code)
        assert r.status_code == 200 and "event: done" in body, body[-300:]
        self.acked_turns.append(self.session_id)

    def sse_hold(self) -> None:
        """A client that starts a streamed turn and keeps the connection open."""
        sid = self._new_session()
        client = self.client("student")
        req = client.build_request(
            "POST", f"/v1/sessions/{sid}/messages",
            json={"text": "what does keeper mean"}, headers={"Accept": "text/event-stream"},
        )  # fmt: skip
        resp = client.send(req, stream=True)
        self._record("sse_hold", resp.status_code)
        self.streams.append(resp)  # read nothing more: still connected at the signal

    def questions_text(self) -> None:
        r = self.client("teacher").post("/v1/questions", json={"text": TEXT, "count": 3})
        self._record("questions_text", r.status_code)
        assert r.status_code == 200, r.text

    def question_job(self) -> None:
        r = self.client("teacher").post(
            "/v1/questions", json={"passage_id": "lighthouse-keeper", "count": 12}
        )
        self._record("question_job", r.status_code)
        assert r.status_code == 202, r.text
        self.acked_jobs.append(r.json()["id"])

    def ingest_good(self) -> None:
        pid = f"p-{random.getrandbits(40):x}"
        body = {"passages": [{"passage_id": pid, "title": "Harbor", "text": TEXT, "grade": 4}]}
        r = self.client("admin2").post("/v1/passages", json=body)
        self._record("ingest_good", r.status_code)
        assert r.status_code == 201, r.text
        self.acked_passages.append(pid)

    def ingest_refused(self) -> None:
        body = {"passages": [{"passage_id": "bad", "title": "", "text": TEXT, "grade": 4}]}
        r = self.client("admin").post("/v1/passages", json=body)
        self._record("ingest_refused", r.status_code)
        assert r.status_code == 422, r.text

    def ingest_failing(self) -> None:
        """Whitespace-only text: refused with a 4xx (it once raised a 500)."""
        r = self.client("admin").post(
            "/v1/passages", content="   \n\t  ", headers={"content-type": "text/plain"},
            params={"passage_id": f"ws-{random.getrandbits(32):x}", "title": "Blank", "grade": 3},
        )  # fmt: skip
        self._record("ingest_failing", r.status_code)
        assert 400 <= r.status_code < 500, r.text

    def alert_ack(self) -> None:
        sid = self._new_session()
        r = self.client("student").post(f"/v1/sessions/{sid}/messages", json={"text": DISCLOSURE})
        assert r.status_code == 200, r.text
        self.acked_turns.append(sid)
        alerts = self.client("teacher").get("/v1/alerts", params={"status": "open"}).json()
        ids = [a["id"] for a in alerts["items"] if a["session_id"] == sid]
        assert ids, alerts
        r = self.client("teacher").post(f"/v1/alerts/{ids[0]}/acknowledge")
        self._record("alert_ack", r.status_code)
        assert r.status_code == 200, r.text
        self.acked_alerts.append(ids[0])

    def class_create(self) -> None:
        r = self.client("admin2").post(
            "/v1/classes", json={"name": "5B", "teacher_ids": ["t9"], "student_ids": ["s9"]}
        )
        self._record("class_create", r.status_code)
        assert r.status_code == 201, r.text

    def webhook_event(self) -> None:
        """A session.created event: a delivery the slow receiver keeps pending."""
        self._new_session()
        self._record("webhook_event", 201)

    def lti_launch(self) -> None:
        with httpx.Client(follow_redirects=False, timeout=30) as browser:
            r = browser.get(self.lms.launch_url("student"))
            r = browser.get(r.headers["location"])  # readloom's /lti/login
            assert r.status_code == 302, r.text
            cookie = r.headers["set-cookie"].split(";", 1)[0]
            form = browser.get(r.headers["location"]).text  # the LMS's auto-posting form
            fields = dict(re.findall(r'name="(id_token|state)" value="([^"]+)"', form))
            r = browser.post(
                self.server.base_url + "/lti/launch", data=fields, headers={"cookie": cookie}
            )
        self._record("lti_launch", r.status_code)
        assert r.status_code == 200, r.text[:300]


ACTIONS: dict[str, Callable[[Mix], None]] = {
    "turn": Mix.turn,
    "sse_turn": Mix.sse_turn,
    "sse_hold": Mix.sse_hold,
    "questions_text": Mix.questions_text,
    "question_job": Mix.question_job,
    "ingest_good": Mix.ingest_good,
    "ingest_refused": Mix.ingest_refused,
    "ingest_failing": Mix.ingest_failing,
    "alert_ack": Mix.alert_ack,
    "class_create": Mix.class_create,
    "webhook_event": Mix.webhook_event,
    "lti_launch": Mix.lti_launch,
}


@contextlib.contextmanager
def started(
    home: Path,
    *,
    grace_s: float,
    database_url: str | None = None,
    receiver: SlowReceiver | None = None,
) -> Iterator[Mix]:
    """A server with a registered test LMS, a webhook receiver (``receiver``, kept by the
    caller across several servers, or a new slow one) and the mix's clients."""
    from readloom.api.lti.registry import Platform, PlatformRegistry

    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, database_url=database_url)
    migrate(settings)
    port = free_port()
    server = ServerProc(home, port, server_env(home, database_url, grace_s), grace_s)
    lms = FakePlatform(tool_url=server.base_url).start()
    PlatformRegistry(settings).register(Platform(**lms.registration(), tenant="lti-district"))
    own_receiver = receiver is None
    receiver = receiver or SlowReceiver().start()
    mix = Mix(server=server, settings=settings, receiver=receiver, lms=lms)
    try:
        server.start()
        mix.setup()
        yield mix
    finally:
        mix.close()
        server.kill()
        if own_receiver:
            receiver.stop()
        lms.stop()


def run_in_flight(mix: Mix, names: list[str]) -> list[threading.Thread]:
    """Start these actions in threads (still running when the signal comes)."""

    def go(name: str) -> None:
        with contextlib.suppress(httpx.HTTPError, AssertionError):
            ACTIONS[name](mix)

    threads = [threading.Thread(target=go, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    return threads


def check_consistent(mix: Mix, *, clean: bool = True) -> list[str]:
    """What is wrong with the database after the stop (empty: nothing). ``clean``: the
    server finished its own shutdown (no watchdog), so it also put back what it held."""
    return asyncio.run(_check(mix, clean=clean))


async def _check(mix: Mix, *, clean: bool) -> list[str]:
    from sqlalchemy import select

    from readloom.storage.leases import open_leases
    from readloom.storage.models import (
        IdempotencyRecord,
        Message,
        QuestionJob,
        TutoringSession,
        WebhookDelivery,
    )

    problems: list[str] = []
    db = Database(mix.settings)
    leases = open_leases(mix.settings)

    async def still_leased(key: str) -> bool:
        """The stopped server's leases died with it: each is free for the taking."""
        if not await leases.try_acquire(key):
            return True
        await leases.release(key)
        return False

    try:
        async with db.reader() as s:
            jobs = {j.id: j for j in (await s.execute(select(QuestionJob))).scalars()}
            for jid in mix.acked_jobs:
                job = jobs.get(jid)
                if job is None:
                    problems.append(f"acknowledged job {jid} lost")
                elif job.status == "succeeded" and not job.result:
                    problems.append(f"job {jid} succeeded without a result")
                elif job.status not in ("queued", "running", "succeeded", "failed"):
                    problems.append(f"job {jid} in state {job.status}")
                elif job.status == "running" and clean:
                    problems.append(f"job {jid} left running by a clean stop (not requeued)")
            for job in jobs.values():
                if job.status in ("queued", "running") and await still_leased(
                    f"question-job:{job.id}"
                ):
                    problems.append(f"job {job.id} still leased by a stopped server")
            deliveries = list((await s.execute(select(WebhookDelivery))).scalars())
            received = set(mix.receiver.received)
            for d in deliveries:
                if d.status == "delivered" and d.id not in received:
                    problems.append(f"delivery {d.id} marked delivered, never received")
                if d.status == "pending" and await still_leased(f"webhook-delivery:{d.id}"):
                    problems.append(f"delivery {d.id} still leased by a stopped server")
            n_sessions = len(list((await s.execute(select(TutoringSession.id))).scalars()))
            if n_sessions == 0:
                problems.append("no tutoring session survived")
            stored = Counter((await s.execute(select(Message.session_id))).scalars())
            for sid, n in Counter(mix.acked_turns).items():
                if stored[sid] < n:
                    problems.append(f"session {sid}: {n} turns answered, {stored[sid]} stored")
            for r in (await s.execute(select(IdempotencyRecord))).scalars():
                if r.state == "done" and (r.status_code is None or r.response is None):
                    problems.append(f"idempotency record {r.id} done without its answer")
                elif r.state != "done" and await still_leased(
                    f"idempotency:{r.api_key_id}:{r.key}"
                ):
                    problems.append(f"idempotency record {r.id} still leased by a stopped server")
    finally:
        await leases.close()
        await db.dispose()
    if mix.settings.database_url is None:
        for path in (mix.settings.home / "readloom.sqlite", mix.settings.checkpoint_path):
            if path.exists():
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                try:
                    ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
                finally:
                    conn.close()
                if ok != "ok":
                    problems.append(f"{path.name}: integrity_check says {ok}")
    return problems


def settle_after_restart(mix: Mix, timeout_s: float = 120.0) -> list[str]:
    """Start the server again on the same home and database, with a receiver that now
    answers at once: every accepted job finishes and every delivery arrives (nothing
    acknowledged was lost). Returns what did not, within the bounded wait."""
    from sqlalchemy import select

    from readloom.storage.models import QuestionJob, WebhookDelivery

    mix.receiver.delay_s = 0.0
    mix.server.start()

    async def outstanding() -> list[str]:
        db = Database(mix.settings)
        try:
            async with db.reader() as s:
                jobs = (
                    await s.execute(select(QuestionJob).where(QuestionJob.id.in_(mix.acked_jobs)))
                ).scalars()
                left = [f"job {j.id} {j.status}" for j in jobs if j.status != "succeeded"]
                deliveries = (await s.execute(select(WebhookDelivery))).scalars()
                left += [
                    f"delivery {d.id} {d.status}" for d in deliveries if d.status != "delivered"
                ]
                return left
        finally:
            await db.dispose()

    deadline = time.monotonic() + timeout_s
    left = asyncio.run(outstanding())
    while left and time.monotonic() < deadline:
        time.sleep(1.0)
        left = asyncio.run(outstanding())
    return left


def summary(mix: Mix) -> str:
    return json.dumps(mix.statuses, sort_keys=True)


def wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> float | None:
    """Seconds until ``proc`` exited, or None if it had not within ``timeout_s`` (then it
    is killed, so no test leaves a server behind)."""
    t0 = time.monotonic()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return None
    return time.monotonic() - t0
