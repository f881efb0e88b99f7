"""Passages (ingest as JSON, JSON lines, text; list; read; tenant isolation) and
question generation (synchronous, and a job to poll for large batches)."""

from __future__ import annotations

import json
import time

from apitest_support import World, assert_problem

STORY = (
    "Nia found a small green turtle near the river. She carried it home in her hat. "
    "Her brother Sam built a box with sand and water. Every morning Nia fed the turtle "
    "lettuce. When summer ended, they carried the turtle back to the river and watched "
    "it swim away. Nia felt sad, but she knew the river was its home."
)


def _passage(pid: str, **kw: object) -> dict:
    return {"passage_id": pid, "title": "The Turtle", "text": STORY, "grade": 3, **kw}


def test_ingest_json_list_and_read(world: World) -> None:
    pid = f"turtle-{world.tenant}"
    r = world.teacher.post("/v1/passages", json={"passages": [_passage(pid)]})
    assert r.status_code == 201, r.text
    assert r.json() == {"passage_ids": [pid]}
    listed = [p["passage_id"] for p in world.student.get("/v1/passages").json()["items"]]
    assert pid in listed
    got = world.student.get(f"/v1/passages/{pid}")
    assert got.status_code == 200 and got.json()["text"] == STORY and got.json()["grade"] == 3


def test_ingest_jsonl_and_plain_text(world: World) -> None:
    a, b, c = (f"{x}-{world.tenant}" for x in "abc")
    lines = "\n".join(json.dumps(_passage(p)) for p in (a, b)) + "\n"
    r = world.partner.post(
        "/v1/passages", content=lines.encode(), headers={"content-type": "application/x-ndjson"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["passage_ids"] == [a, b]
    r = world.partner.post(
        f"/v1/passages?passage_id={c}&title=Turtle&grade=3&genre=fiction",
        content=STORY.encode(),
        headers={"content-type": "text/plain; charset=utf-8"},
    )
    assert r.status_code == 201, r.text
    assert world.partner.get(f"/v1/passages/{c}").json()["genre"] == "fiction"
    bad = world.partner.post(
        "/v1/passages", content=b'{"passage_id": "x"}\n',
        headers={"content-type": "application/x-ndjson"},
    )  # fmt: skip
    assert "line 1" in assert_problem(bad, 422)["detail"]
    missing = world.partner.post(
        "/v1/passages", content=STORY.encode(), headers={"content-type": "text/plain"}
    )
    assert "passage_id" in assert_problem(missing, 422)["detail"]


def test_passages_are_private_to_their_tenant(world: World) -> None:
    pid = f"private-{world.tenant}"
    assert world.teacher.post("/v1/passages", json={"passages": [_passage(pid)]}).status_code == 201
    assert_problem(world.stranger.get(f"/v1/passages/{pid}"), 404)
    listed = [p["passage_id"] for p in world.stranger.get("/v1/passages").json()["items"]]
    assert pid not in listed
    # another tenant cannot take the id over, nor overwrite a shipped passage
    r = world.stranger.post("/v1/passages", json={"passages": [_passage(pid)]})
    assert_problem(r, 409, "conflict")
    r = world.stranger.post("/v1/passages", json={"passages": [_passage(world.passage_id)]})
    assert_problem(r, 409, "conflict")
    # nor start a session on it
    r = world.stranger.post(
        "/v1/sessions", json={"student_id": "x1", "grade": 3, "passage_id": pid}
    )
    assert_problem(r, 404)


def test_a_few_questions_come_back_at_once(world: World) -> None:
    r = world.teacher.post("/v1/questions", json={"passage_id": world.passage_id, "count": 3})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["passage_id"] == world.passage_id
    assert 1 <= len(out["questions"]) <= 3
    for q in out["questions"]:
        assert q["question"].strip() and q["skill"]


def test_questions_from_posted_text(world: World) -> None:
    r = world.teacher.post("/v1/questions", json={"text": STORY, "title": "Turtle", "count": 2})
    assert r.status_code == 200, r.text
    assert r.json()["questions"]


def test_many_questions_make_a_job_to_poll(world: World) -> None:
    r = world.teacher.post("/v1/questions", json={"passage_id": world.passage_id, "count": 12})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/question-jobs/{job['id']}"
    assert job["status"] in ("queued", "running", "succeeded") and job["count"] == 12
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = world.teacher.get(r.headers["location"]).json()
    assert job["status"] == "succeeded", job
    assert job["result"]["questions"]
    # only the requesting teacher (and integrators) see the job
    assert_problem(world.other_teacher.get(r.headers["location"]), 404)
    assert world.admin.get(r.headers["location"]).status_code == 200
    assert_problem(world.stranger.get(r.headers["location"]), 404)


def test_question_request_validation(world: World) -> None:
    r = world.teacher.post("/v1/questions", json={"count": 3})
    assert "passage_id" in assert_problem(r, 422)["detail"]
    r = world.teacher.post(
        "/v1/questions", json={"passage_id": world.passage_id, "text": STORY, "count": 3}
    )
    assert_problem(r, 422)
    r = world.teacher.post("/v1/questions", json={"passage_id": world.passage_id, "count": 51})
    assert "count" in assert_problem(r, 422)["detail"]
    r = world.teacher.post("/v1/questions", json={"passage_id": "nope", "count": 2})
    assert_problem(r, 404)
