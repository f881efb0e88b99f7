"""Class insights over HTTP: who may read them, bad ranges, the last result served when
recomputing fails, and the time-to-insight clock of a real alert (its webhook, the
teacher's first sighting)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apitest_support import World, assert_problem
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from test_api_webhooks_xapi import Receiver

from readloom.storage.db import sync_engine
from readloom.storage.models import Message
from readloom.storage.models_insights import AlertTiming


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    r = Receiver([])
    try:
        yield r
    finally:
        r.close()


def _db(world: World):
    return sync_engine(world.server.settings)


def test_only_the_class_teachers_and_admins_read_insights(world: World) -> None:
    path = f"/v1/classes/{world.class_id}/insights"
    ok = world.teacher.get(path)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["class_id"] == world.class_id and body["students"] == 2
    assert body["freshness"]["source"] in ("live", "cache") and body["freshness"]["stale"] is False
    assert world.admin.get(path).status_code == 200
    for client in (world.other_teacher, world.stranger):  # another class, another tenant
        assert_problem(client.get(path), 404, "not_found")
        assert_problem(client.get(path + ".csv"), 404, "not_found")
    for client in (world.student, world.partner):
        assert_problem(client.get(path), 403)
    assert_problem(world.teacher.get("/v1/classes/no-such-class/insights"), 404)


def test_bad_date_ranges_are_refused_with_a_message(world: World) -> None:
    path = f"/v1/classes/{world.class_id}/insights"
    body = assert_problem(
        world.teacher.get(path, params={"from": "2026-03-10", "to": "2026-03-01"}), 422
    )
    assert "'from'" in body["detail"]
    assert_problem(world.teacher.get(path, params={"from": "2020-01-01", "to": "2026-03-01"}), 422)
    assert_problem(world.teacher.get(path, params={"from": "yesterday"}), 422)


def test_the_last_result_is_served_with_its_age_when_recomputing_fails(world: World) -> None:
    path = f"/v1/classes/{world.class_id}/insights"
    params = {"from": "2026-01-05", "to": "2026-02-01"}
    first = world.teacher.get(path, params=params).json()
    engine = _db(world)
    try:
        with engine.begin() as c:  # a real fault: a table the agent reads is gone
            c.execute(text("ALTER TABLE alert_timings RENAME TO alert_timings_away"))
        try:
            time.sleep(0.05)
            r = world.teacher.get(path, params=params)
            assert r.status_code == 200, r.text
            stale = r.json()
            assert (
                stale["freshness"]["stale"] is True and stale["freshness"]["source"] == "snapshot"
            )
            assert stale["freshness"]["age_s"] >= 0
            assert stale["freshness"]["computed_at"] == first["freshness"]["computed_at"]
            assert stale["engagement"] == first["engagement"]
            # never computed before: nothing to fall back on, a clear 503
            never = world.teacher.get(path, params={"from": "2025-01-06", "to": "2025-02-02"})
            assert_problem(never, 503, "insights_unavailable")
        finally:
            with engine.begin() as c:
                c.execute(text("ALTER TABLE alert_timings_away RENAME TO alert_timings"))
    finally:
        engine.dispose()
    again = world.teacher.get(path, params=params).json()
    assert again["freshness"]["stale"] is False


def _wait(pred, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_an_alert_is_timed_from_the_first_failed_attempt_to_the_teacher_seeing_it(
    world: World, hooks: Receiver
) -> None:
    hook = world.admin.post("/v1/webhooks", json={"url": hooks.url, "events": ["alert.created"]})
    assert hook.status_code == 201, hook.text
    r = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
    )
    sid = r.json()["id"]
    assert (
        world.student.post(f"/v1/sessions/{sid}/messages", json={"text": "hello"}).status_code
        == 200
    )
    kinds = []
    for _ in range(6):
        out = world.student.post(
            f"/v1/sessions/{sid}/messages", json={"text": "zebra xylophone"}
        ).json()
        kinds.append((out.get("intervention") or {}).get("kind"))
        if kinds[-1] == "teacher_alert":
            break
    assert kinds[-1] == "teacher_alert", kinds
    triggered = time.time()

    # the webhook arrives within a minute of the trigger, naming the alert
    _wait(lambda: hooks.received, timeout=60)
    received = time.time()
    assert received - triggered <= 60
    event = json.loads(hooks.received[0][1])
    alert_id = event["data"]["alert_id"]
    assert event["type"] == "alert.created" and alert_id

    engine = _db(world)
    try:
        with Session(engine) as s:
            timing = s.scalars(select(AlertTiming).where(AlertTiming.alert_id == alert_id,
                                                          AlertTiming.tenant_id == world.tenant)).one()  # fmt: skip
            msgs = list(
                s.scalars(select(Message).where(Message.session_id == sid).order_by(Message.seq))
            )
    finally:
        engine.dispose()
    first_wrong = next(
        m for m in msgs if (m.meta.get("grade_result") or {}).get("correct") is False
    )
    assert timing.trouble_began_at == first_wrong.created_at
    assert timing.student_id == "s1" and timing.seen_at is None
    assert (timing.notified_at - timing.raised_at) <= timedelta(seconds=60)

    # the badge: the open queue already lists it for the teacher
    open_ids = {a["id"] for a in world.teacher.get("/v1/alerts").json()["items"]}
    assert alert_id in open_ids
    tti = world.teacher.get(f"/v1/classes/{world.class_id}/insights").json()["time_to_insight"]
    assert tti["alerts"] == 1 and tti["seen"] == 0 and tti["unseen"] == 1

    # a teacher of another class cannot stop the clock; the class's teacher can, once
    assert world.other_teacher.post("/v1/alerts/seen", json={"alert_ids": [alert_id]}).json() == {
        "marked": 0
    }
    assert world.teacher.post("/v1/alerts/seen", json={"alert_ids": [alert_id]}).json() == {
        "marked": 1
    }
    assert world.teacher.post("/v1/alerts/seen", json={"alert_ids": [alert_id]}).json() == {
        "marked": 0
    }
    assert_problem(world.teacher.post("/v1/alerts/seen", json={"alert_ids": []}), 422)
    ack = world.teacher.post(f"/v1/alerts/{alert_id}/acknowledge", json={})
    assert ack.status_code == 200
    body = world.teacher.get(f"/v1/classes/{world.class_id}/insights").json()
    tti = body["time_to_insight"]
    assert tti["alerts"] == 1 and tti["seen"] == 1
    engine = _db(world)
    try:
        with Session(engine) as s:
            timing = s.scalars(select(AlertTiming).where(AlertTiming.alert_id == alert_id,
                                                          AlertTiming.tenant_id == world.tenant)).one()  # fmt: skip
    finally:
        engine.dispose()
    assert timing.seen_how == "opened"  # the first sighting counts, not the later acknowledgement
    minutes = (timing.seen_at - timing.trouble_began_at).total_seconds() / 60
    assert tti["median_minutes"] == round(minutes, 1) == tti["p90_minutes"]
    assert datetime.now(UTC) - timing.seen_at < timedelta(minutes=5)
