"""Webhooks (signed, retried with backoff through the outbox) and xAPI statements."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from apitest_support import World, assert_problem

from readloom.service.outbox import verify
from readloom.tools.prerequisites import SkillGraph


class Receiver:
    """A partner's endpoint: answers from a script of statuses, records what it got."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = outer.statuses.pop(0) if outer.statuses else 200
                outer.received.append((dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/readloom"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500, 503])  # two failures, then success
    try:
        yield r
    finally:
        r.close()


def _wait(pred, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_signed_deliveries_are_retried_until_accepted(world: World, receiver: Receiver) -> None:
    r = world.partner.post(
        "/v1/webhooks",
        json={"url": receiver.url, "events": ["graded_response.created", "mastery.updated"]},
    )
    assert r.status_code == 201, r.text
    hook = r.json()
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in world.partner.get(f"/v1/webhooks/{hook['id']}").json()

    skill = SkillGraph.load(world.server.settings.skills_path).skills[0].id
    world.partner.post("/v1/students/s2/graded-responses", json={"skill": skill, "correct": True})

    _wait(lambda: any(status == 200 for *_, status in receiver.received))
    assert [s for *_, s in receiver.received] == [500, 503, 200]
    ids = {h["webhook-id"] for h, *_ in receiver.received}
    assert len(ids) == 1  # the same delivery, retried
    for headers, body, _ in receiver.received:
        assert verify(secret, headers, body)
        assert not verify(secret, headers, body + b" ")  # tampering is detected
    event = json.loads(receiver.received[-1][1])
    assert event["type"] == "mastery.updated"
    assert event["data"]["student_id"] == "s2" and event["data"]["skill"] == skill

    deliveries = world.partner.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
    assert deliveries[0]["status"] == "delivered" and deliveries[0]["attempts"] == 3
    # backoff grew between attempts
    times = [float(h["webhook-timestamp"]) for h, *_ in receiver.received]
    assert times == sorted(times)


def test_webhook_crud_and_tenant_isolation(world: World, receiver: Receiver) -> None:
    hook = world.admin.post("/v1/webhooks", json={"url": receiver.url}).json()
    assert [h["id"] for h in world.partner.get("/v1/webhooks").json()["items"]] == [hook["id"]]
    assert_problem(world.stranger.get(f"/v1/webhooks/{hook['id']}"), 404)
    assert_problem(world.stranger.delete(f"/v1/webhooks/{hook['id']}"), 404)
    assert world.partner.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert_problem(world.partner.get(f"/v1/webhooks/{hook['id']}"), 404)
    bad = world.partner.post("/v1/webhooks", json={"url": "not a url"})
    assert "url" in assert_problem(bad, 422)["detail"]
    bad = world.partner.post("/v1/webhooks", json={"url": receiver.url, "events": ["nope"]})
    assert "events" in assert_problem(bad, 422)["detail"]


def test_xapi_statements_carry_no_personal_data(world: World) -> None:
    home = "https://lms.example.org/district-9"
    assert world.admin.put("/v1/tenant", json={"home_page": home}).status_code == 200
    sid = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
    ).json()["id"]
    text = "I am Priya Natarajan and I live at 42 Elm Street. Is the fox clever?"
    assert (
        world.student.post(f"/v1/sessions/{sid}/messages", json={"text": text}).status_code == 200
    )
    r = world.partner.get("/v1/xapi/statements?limit=1")
    assert r.status_code == 200
    page = r.json()
    assert len(page["statements"]) == 1 and page["more"]
    rest = world.partner.get(page["more"]).json()["statements"]
    statements = page["statements"] + rest
    assert len(statements) >= 2
    raw = json.dumps(statements)
    assert "Priya" not in raw and "Elm" not in raw and "fox clever" not in raw
    for st in statements:
        actor = st["actor"]
        assert set(actor) == {"objectType", "account"}
        assert actor["account"]["name"] == "s1"
        assert actor["account"]["homePage"] == home
        assert st["verb"]["id"].startswith("http://adlnet.gov/expapi/verbs/")
        assert st["context"]["registration"] == sid
    # a teacher sees only their classes' statements; a student none
    assert all(
        s["actor"]["account"]["name"] in ("s1", "s2")
        for s in world.teacher.get("/v1/xapi/statements").json()["statements"]
    )
    assert world.other_teacher.get("/v1/xapi/statements").json()["statements"] == []


def test_a_safety_alert_is_announced_as_alert_created(world: World) -> None:
    """The alert the input guard queues for a self-harm message reaches the partner as an
    ``alert.created`` event (an outbox row, then a delivery) naming that very alert; a
    block that queues no alert (profanity, low severity) announces nothing, and a repeat
    names the alert it bumped."""
    hooks = Receiver([])
    try:
        hook = world.admin.post(
            "/v1/webhooks", json={"url": hooks.url, "events": ["alert.created"]}
        )
        assert hook.status_code == 201, hook.text
        sid = world.partner.post(
            "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
        ).json()["id"]
        for text, move in (
            ("i want to kill myself", "safety"),
            ("this story is shit", "safety"),
            ("i want to kill myself", "safety"),
        ):
            r = world.student.post(f"/v1/sessions/{sid}/messages", json={"text": text})
            assert r.status_code == 200, r.text
            assert r.json()["blocked"] is True and r.json()["move"] == move
        alerts = [
            a for a in world.admin.get("/v1/alerts").json()["items"] if a["session_id"] == sid
        ]
        assert [a["kind"] for a in alerts] == ["self_harm"]
        _wait(lambda: len(hooks.received) >= 2)
        time.sleep(1.0)  # a third (wrong) event would have been sent in order by now
    finally:
        hooks.close()
    events = [json.loads(body) for _, body, _ in hooks.received]
    assert [e["type"] for e in events] == ["alert.created", "alert.created"]
    first, repeat = (e["data"] for e in events)
    assert first == {
        "student_id": "s1", "session_id": sid, "kind": "safety", "alert_kind": "self_harm",
        "alert_id": alerts[0]["id"], "severity": alerts[0]["severity"], "status": "open",
        "repeats": 0,
    }  # fmt: skip
    assert repeat == {**first, "repeats": 1}
