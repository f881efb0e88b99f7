"""Tutoring sessions over HTTP: create, message (JSON and SSE), history, idempotency."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import httpx
from apitest_support import World, assert_problem
from sqlalchemy import select

from readloom.storage.db import Database
from readloom.storage.models import IdempotencyRecord, Message


def _session(w: World, client: httpx.Client | None = None, **body: object) -> dict:
    client = client or w.partner
    payload = {"student_id": "s1", "grade": 4, "passage_id": w.passage_id, **body}
    if client is w.student:
        payload.pop("student_id")
    r = client.post("/v1/sessions", json=payload)
    assert r.status_code == 201, r.text
    return r.json()


def _stored_messages(w: World, session_id: str) -> list[Message]:
    async def run() -> list[Message]:
        db = Database(w.server.settings)
        try:
            async with db.reader() as s:
                q = select(Message).where(Message.session_id == session_id).order_by(Message.seq)
                return list((await s.execute(q)).scalars())
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_create_read_and_list_sessions(world: World) -> None:
    created = _session(world)
    assert created["student_id"] == "s1" and created["grade"] == 4
    uuid.UUID(created["id"])  # sessions are UUIDs (also the xAPI registration)
    got = world.partner.get(f"/v1/sessions/{created['id']}")
    assert got.status_code == 200 and got.json()["message_count"] == 0
    mine = _session(world, world.student)
    assert mine["student_id"] == "s1"
    listed = world.student.get("/v1/sessions").json()["items"]
    assert {s["id"] for s in listed} == {created["id"], mine["id"]}
    assert world.other_student.get("/v1/sessions").json()["items"] == []


def test_create_session_refusals(world: World) -> None:
    r = world.student.post(
        "/v1/sessions", json={"student_id": "s2", "grade": 4, "passage_id": world.passage_id}
    )
    assert_problem(r, 403, "forbidden")
    r = world.teacher.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
    )
    assert_problem(r, 403)
    r = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": "no-such-passage"}
    )
    assert_problem(r, 404, "not_found")
    r = world.partner.post("/v1/sessions", json={"grade": 4, "passage_id": world.passage_id})
    body = assert_problem(r, 422)
    assert "student_id" in body["detail"]
    r = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 13, "passage_id": world.passage_id}
    )
    body = assert_problem(r, 422, "validation_error")
    assert "grade" in body["detail"]


def test_message_gets_a_reply_and_is_recorded(world: World) -> None:
    sid = _session(world)["id"]
    r = world.student.post(
        f"/v1/sessions/{sid}/messages", json={"text": "What is this story about?"}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["seq"] == 1 and out["session_id"] == sid
    assert out["reply"].strip()
    r2 = world.partner.post(
        f"/v1/sessions/{sid}/messages", json={"text": "I think it is about a trip."}
    )
    assert r2.status_code == 200 and r2.json()["seq"] == 2
    hist = world.teacher.get(f"/v1/sessions/{sid}/messages").json()["items"]
    assert [h["seq"] for h in hist] == [1, 2]
    assert hist[0]["text"] == "What is this story about?"
    assert hist[0]["reply"] == out["reply"]


def test_personal_data_is_stored_redacted_and_shown_to_the_student(world: World) -> None:
    sid = _session(world)["id"]
    text = "My name is Maria Gonzalez and my phone is 555-867-5309. Who is in the story?"
    r = world.student.post(f"/v1/sessions/{sid}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    stored = _stored_messages(world, sid)
    assert len(stored) == 1
    assert "Maria" not in stored[0].text and "867-5309" not in stored[0].text
    assert "Maria" not in stored[0].reply
    hist = world.student.get(f"/v1/sessions/{sid}/messages").json()["items"]
    assert "Maria Gonzalez" in hist[0]["text"]  # re-identified for the student


def _sse_events(resp: httpx.Response) -> list[tuple[str, dict]]:
    events, name = [], "message"
    for line in resp.iter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line.split(":", 1)[1].strip())))
            name = "message"
    return events


def test_streaming_reply_over_sse(world: World) -> None:
    sid = _session(world)["id"]
    with world.student.stream(
        "POST",
        f"/v1/sessions/{sid}/messages",
        json={"text": "Can you give me a hint about the main idea?"},
        headers={"Accept": "text/event-stream"},
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = _sse_events(resp)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and kinds.count("token") >= 1
    assert set(kinds[:-1]) == {"token"}
    streamed = "".join(d["text"] for k, d in events if k == "token")
    done = events[-1][1]
    assert streamed == done["reply"] and done["seq"] == 1
    hist = world.student.get(f"/v1/sessions/{sid}/messages").json()["items"]
    assert len(hist) == 1 and hist[0]["reply"] == done["reply"]


def test_retried_message_is_answered_once(world: World) -> None:
    sid = _session(world)["id"]
    headers = {"Idempotency-Key": "msg-1"}
    body = {"text": "Is the boy happy at the end?"}
    first = world.student.post(f"/v1/sessions/{sid}/messages", json=body, headers=headers)
    again = world.student.post(f"/v1/sessions/{sid}/messages", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(_stored_messages(world, sid)) == 1
    # streaming retry of the same key replays too, without a new turn
    with world.student.stream(
        "POST", f"/v1/sessions/{sid}/messages", json=body,
        headers={**headers, "Accept": "text/event-stream"},
    ) as resp:  # fmt: skip
        events = _sse_events(resp)
    assert events[-1][1]["reply"] == first.json()["reply"]
    assert len(_stored_messages(world, sid)) == 1
    # same key, different body: refused
    r = world.student.post(
        f"/v1/sessions/{sid}/messages", json={"text": "something else"}, headers=headers
    )
    assert_problem(r, 422, "idempotency_key_reused")


def test_concurrent_retries_run_the_turn_once(world: World) -> None:
    sid = _session(world)["id"]
    results: list[httpx.Response] = []

    def send() -> None:
        with world.server.client(world.student.headers["Authorization"].split()[1]) as c:
            results.append(
                c.post(
                    f"/v1/sessions/{sid}/messages",
                    json={"text": "Where does the story happen?"},
                    headers={"Idempotency-Key": "race-1"},
                )
            )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 4
    ok = [r for r in results if r.status_code == 200]
    assert ok, [r.text for r in results]
    for r in results:
        if r.status_code != 200:
            assert_problem(r, 409, "idempotency_in_progress")
            assert int(r.headers["retry-after"]) >= 1
    assert len({json.dumps(r.json(), sort_keys=True) for r in ok}) == 1
    assert len(_stored_messages(world, sid)) == 1


def test_idempotent_session_creation(world: World) -> None:
    body = {"student_id": "s2", "grade": 4, "passage_id": world.passage_id}
    h = {"Idempotency-Key": "create-s2"}
    a = world.partner.post("/v1/sessions", json=body, headers=h)
    b = world.partner.post("/v1/sessions", json=body, headers=h)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    ids = [s["id"] for s in world.partner.get("/v1/sessions?student_id=s2").json()["items"]]
    assert ids == [a.json()["id"]]

    async def records() -> list[IdempotencyRecord]:
        db = Database(world.server.settings)
        try:
            async with db.reader() as s:
                q = select(IdempotencyRecord).where(IdempotencyRecord.key == "create-s2")
                return list((await s.execute(q)).scalars())
        finally:
            await db.dispose()

    (rec,) = asyncio.run(records())
    assert rec.state == "done" and rec.status_code == 201


def test_message_validation(world: World) -> None:
    sid = _session(world)["id"]
    body = assert_problem(
        world.student.post(f"/v1/sessions/{sid}/messages", json={"text": ""}), 422
    )
    assert "text" in body["detail"]
    body = assert_problem(
        world.student.post(f"/v1/sessions/{sid}/messages", json={"text": "x" * 2001}), 422
    )
    assert "text" in body["detail"]
    body = assert_problem(
        world.student.post(
            f"/v1/sessions/{sid}/messages",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ),
        422,
    )
    assert_problem(world.student.post("/v1/sessions/nope/messages", json={"text": "hi"}), 404)


def test_students_never_receive_the_answer_to_their_question(world: World) -> None:
    sid = _session(world)["id"]
    student = world.student.post(f"/v1/sessions/{sid}/messages", json={"text": "hi"}).json()
    assert student["current_question"]["question"]
    assert student["current_question"]["answer"] is None
    assert student["current_question"]["evidence"] is None
    with world.student.stream(
        "POST",
        f"/v1/sessions/{sid}/messages",
        json={"text": "hmm, a boat?"},
        headers={"Accept": "text/event-stream"},
    ) as resp:
        done = _sse_events(resp)[-1][1]
    assert done["current_question"]["answer"] is None
    partner = world.partner.post(f"/v1/sessions/{sid}/messages", json={"text": "a boat"}).json()
    assert partner["current_question"]["answer"]  # the LMS integration may see it


def test_a_session_created_with_open_starts_with_the_tutors_question(world: World) -> None:
    r = world.student.post(
        "/v1/sessions", json={"grade": 4, "passage_id": world.passage_id, "open": True}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    opening = body["opening"]
    assert opening["seq"] == 1 and opening["current_question"]["question"] in opening["reply"]
    assert opening["current_question"]["answer"] is None  # a student never sees the key
    history = world.student.get(f"/v1/sessions/{body['id']}/messages").json()["items"]
    assert [(h["text"], h["reply"]) for h in history] == [("", opening["reply"])]
    assert world.student.get(f"/v1/sessions/{body['id']}").json()["message_count"] == 1
