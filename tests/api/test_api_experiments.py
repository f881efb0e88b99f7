"""Experiments over HTTP: admin-only, tenant-scoped, outcomes under the student's arm,
a report with effect, CI and p at the planned horizon; tutor turns record outcomes and
replies carry the model versions that made them."""

from __future__ import annotations

import asyncio

import numpy as np
from apitest_support import World, assert_problem
from sqlalchemy import select

from readloom.mlops.experiments import assign
from readloom.storage.db import Database
from readloom.storage.models import Message


def _create(w: World, **body) -> dict:
    payload = {"name": "hint ladder", "factor": "policy", "metric": "next_attempt_correct",
               "arms": [{"name": "control", "config": {"hint_ladder": 2}},
                        {"name": "long", "config": {"hint_ladder": 4}}],
               "baseline": 0.3, "mde": 0.3, **body}  # fmt: skip
    r = w.admin.post("/v1/experiments", json=payload)
    assert r.status_code == 201, r.text
    return r.json()


def test_only_admins_create_and_bad_bodies_are_422(world: World) -> None:
    r = world.teacher.post("/v1/experiments", json={"name": "x"})
    assert_problem(r, 403)
    r = world.admin.post(
        "/v1/experiments",
        json={"name": "x", "factor": "policy", "arms": [{"name": "a"}, {"name": "a"}]},
    )
    assert_problem(r, 422)


def test_outcomes_and_report_with_effect_ci_and_p(world: World) -> None:
    exp = _create(world)
    horizon = exp["planned_students_per_arm"]
    assert 20 <= horizon <= 60
    rng = np.random.default_rng(0)
    arms = ["control", "long"]
    for i in range(2 * horizon + 40):
        student = f"x{i}"
        arm = assign(world.tenant, exp["id"], student, arms)
        value = int(rng.random() < (0.85 if arm == "long" else 0.3))
        r = world.partner.post(
            f"/v1/experiments/{exp['id']}/outcomes",
            json={"student_id": student, "metric": "next_attempt_correct", "value": value},
        )
        assert r.status_code == 201 and r.json()["arm"] == arm, r.text
    r = world.teacher.get(f"/v1/experiments/{exp['id']}/report")
    assert_problem(r, 403)
    assert_problem(world.stranger.get(f"/v1/experiments/{exp['id']}/report"), 404)
    report = world.admin.get(f"/v1/experiments/{exp['id']}/report").json()
    primary = report["metrics"]["next_attempt_correct"]
    (c,) = primary["comparisons"]
    assert c["method"] == "barnard_exact" and c["ci_low"] < c["effect"] < c["ci_high"]
    if primary["horizon_reached"]:
        assert c["p_value"] < 0.001 and "long differs from control" in report["verdict"]
    else:
        assert "no verdict" in report["verdict"]
    r = world.partner.post(f"/v1/experiments/{exp['id']}/outcomes",
                           json={"student_id": "x1", "metric": "joy", "value": 1})  # fmt: skip
    assert_problem(r, 422)


def test_tutor_turns_record_outcomes_and_replies_carry_model_versions(world: World) -> None:
    exp = _create(world, name="turns")
    r = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
    )
    sid = r.json()["id"]
    r = world.student.post(f"/v1/sessions/{sid}/messages", json={"text": "Who is in the story?"})
    assert r.status_code == 200, r.text
    prov = r.json()["provenance"]
    assert set(prov["models"]) == {"mastery", "injection", "readability"}
    assert prov["prompt"]
    report = world.admin.get(f"/v1/experiments/{exp['id']}/report").json()
    assert report["metrics"]["cost_per_turn_usd"]["students"] == {
        assign(world.tenant, exp["id"], "s1", ["control", "long"]): 1,
        ("long" if assign(world.tenant, exp["id"], "s1", ["control", "long"]) == "control"
         else "control"): 0,
    }  # fmt: skip


def _stored_provenance(w: World, session_id: str) -> list[dict]:
    async def read() -> list[dict]:
        db = Database(w.server.settings)
        try:
            async with db.reader() as s:
                rows = await s.execute(
                    select(Message.meta)
                    .where(Message.session_id == session_id)
                    .order_by(Message.seq)
                )
                return [(meta or {}).get("provenance", {}) for (meta,) in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def _student_in(w: World, exp_id: str, arm: str, arms: list[str]) -> str:
    """A student id the experiment's hash puts in ``arm`` (bounded search)."""
    for i in range(64):
        if assign(w.tenant, exp_id, f"learner{i}", arms) == arm:
            return f"learner{i}"
    raise AssertionError(f"no student in arm {arm} among 64")


def _open_session(w: World, student: str):  # noqa: ANN202 - (client, session id, opening)
    r = w.partner.post("/v1/keys", json={"role": "student", "subject": student})
    assert r.status_code == 201, r.text
    client = w.server.client(r.json()["key"])
    r = w.partner.post(
        "/v1/sessions",
        json={"student_id": student, "grade": 4, "passage_id": w.passage_id, "open": True},
    )
    assert r.status_code == 201, r.text
    return client, r.json()["id"], r.json()["opening"]


def test_the_tutor_applies_the_learners_arm_and_records_it_with_each_turn(world: World) -> None:
    """End to end through the API's tutor: a 'quick' arm (worked explanation after one
    try, a one-rung hint ladder) teaches differently from control; every turn records the
    arm it ran under, and the report has the issue's per-turn outcomes."""
    arms = ["control", "quick"]
    exp = _create(
        world, name="never stuck sooner",
        arms=[{"name": "control", "config": {}},
              {"name": "quick", "config": {"tries_before_worked": 1, "hint_ladder": 1}}],
    )  # fmt: skip
    moves: dict[str, list[str | None]] = {}
    for arm in arms:
        student = _student_in(world, exp["id"], arm, arms)
        client, sid, opening = _open_session(world, student)
        assert opening["provenance"]["experiments"] == {exp["id"]: arm}
        assert opening["current_question"]["question"]
        moves[arm] = []
        for text in ("zebra xylophone", "i don't know"):
            r = client.post(f"/v1/sessions/{sid}/messages", json={"text": text})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["provenance"]["experiments"] == {exp["id"]: arm}
            expected_policy = {} if arm == "control" else {"tries_before_worked": 1,
                                                           "hint_ladder": 1}  # fmt: skip
            assert body["provenance"]["policy"] == expected_policy
            moves[arm].append(body["move"])
        # the stored turns (what a later audit reads) name the arm too
        stored = _stored_provenance(world, sid)
        assert len(stored) == 3 and all(p["experiments"] == {exp["id"]: arm} for p in stored)
    assert moves["quick"][0] == "worked_explanation", moves
    assert "worked_explanation" not in moves["control"][:1], moves
    report = world.admin.get(f"/v1/experiments/{exp['id']}/report").json()
    m = report["metrics"]
    assert m["session_turns"]["students"] == {"control": 1, "quick": 1}
    assert m["session_turns"]["means"] == {"control": 3.0, "quick": 3.0}  # opening + 2
    assert set(m) >= {"next_attempt_correct", "mastery_gain", "hints_per_correct",
                      "cost_per_turn_usd", "session_turns"}  # fmt: skip
    assert m["hints_per_correct"]["means"]["control"] >= 1.0  # hints, nothing correct yet
    assert m["mastery_gain"]["means"]["quick"] <= 0.0  # a worked item counts as one miss


def test_an_arm_the_tutor_cannot_apply_is_refused(world: World) -> None:
    for config in ({"hint_ladr": 2}, {"prompt": "tutor_reply@v99"}, {"tries_before_worked": 0}):
        r = world.admin.post(
            "/v1/experiments",
            json={"name": "typo", "factor": "policy",
                  "arms": [{"name": "a"}, {"name": "b", "config": config}]},
        )  # fmt: skip
        assert_problem(r, 422)
