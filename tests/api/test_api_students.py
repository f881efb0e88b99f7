"""Students: mastery, recommendations, LMS-graded responses, and the FERPA rights."""

from __future__ import annotations

import asyncio

from apitest_support import World, assert_problem
from sqlalchemy import func, select

from readloom.storage.checkpoints import open_checkpointer
from readloom.storage.db import Database
from readloom.storage.models import (
    GradedResponse,
    IdempotencyRecord,
    Message,
    Student,
    TutoringSession,
    XapiStatement,
)
from readloom.tools.prerequisites import SkillGraph


def _skill(w: World) -> str:
    return SkillGraph.load(w.server.settings.skills_path).skills[0].id


def _p(w: World, client, student: str, skill: str) -> float:
    skills = {
        s["skill"]: s["p_mastery"]
        for s in client.get(f"/v1/students/{student}/mastery").json()["skills"]
    }
    return skills.get(skill, 0.0)


def test_graded_responses_update_mastery(world: World) -> None:
    skill = _skill(world)
    before = _p(world, world.teacher, "s1", skill)
    for _ in range(3):
        r = world.partner.post(
            "/v1/students/s1/graded-responses",
            json={"skill": skill, "correct": True, "score": 1.0, "item_id": "quiz-7.q1"},
        )
        assert r.status_code == 201, r.text
    out = r.json()
    assert out["student_id"] == "s1" and out["skill"] == skill
    after = _p(world, world.teacher, "s1", skill)
    assert after > before
    assert out["p_mastery"] is None or abs(out["p_mastery"] - after) < 1e-6
    listed = world.teacher.get("/v1/students/s1/graded-responses").json()["items"]
    assert len(listed) == 3 and all(g["item_id"] == "quiz-7.q1" for g in listed)
    # mastery is per tenant: the same pseudonym elsewhere knows nothing of it
    assert _p(world, world.stranger, "s1", skill) == 0.0


def test_graded_response_for_unknown_skill_is_404(world: World) -> None:
    r = world.partner.post(
        "/v1/students/s1/graded-responses", json={"skill": "no-such-skill", "correct": True}
    )
    assert_problem(r, 404)


def test_recommendation_names_a_skill(world: World) -> None:
    r = world.teacher.get("/v1/students/s1/recommendation?grade=4")
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["student_id"] == "s1"
    assert rec["kind"] in ("continue", "new", "review")
    assert rec["skill_id"] in {
        s.id for s in SkillGraph.load(world.server.settings.skills_path).skills
    }
    assert rec["reason"]
    # served recommendations are logged for the monitor's mix: passage and skill, no child
    logged = _recommendation_log(world)
    assert logged == [(rec["passage_id"], rec["skill_id"])]


def _recommendation_log(w: World) -> list[tuple[str | None, str]]:
    from readloom.storage.models_mlops import RecommendationEvent

    async def run() -> list[tuple[str | None, str]]:
        db = Database(w.server.settings)
        try:
            async with db.reader() as s:
                rows = await s.execute(
                    select(RecommendationEvent.passage_id, RecommendationEvent.skill_id).where(
                        RecommendationEvent.tenant_id == w.tenant
                    )
                )
                return [tuple(r) for r in rows]
        finally:
            await db.dispose()

    return asyncio.run(run())


def _counts(w: World, student: str) -> dict[str, int]:
    async def run() -> dict[str, int]:
        db = Database(w.server.settings)
        try:
            async with db.reader() as s:
                out = {}
                for name, model, col in (
                    ("students", Student, Student.id),
                    ("sessions", TutoringSession, TutoringSession.student_id),
                    ("graded", GradedResponse, GradedResponse.student_id),
                    ("xapi", XapiStatement, XapiStatement.student_id),
                    ("idempotency", IdempotencyRecord, IdempotencyRecord.student_id),
                ):
                    q = (
                        select(func.count())
                        .select_from(model)
                        .where(col == student, model.tenant_id == w.tenant)
                    )
                    out[name] = (await s.execute(q)).scalar_one()
                sids = select(TutoringSession.id).where(
                    TutoringSession.student_id == student, TutoringSession.tenant_id == w.tenant
                )
                out["messages"] = (
                    await s.execute(
                        select(func.count())
                        .select_from(Message)
                        .where(Message.session_id.in_(sids))
                    )
                ).scalar_one()
                return out
        finally:
            await db.dispose()

    return asyncio.run(run())


def _checkpoint_turns(w: World, session_id: str) -> int:
    async def run() -> int:
        async with open_checkpointer(w.server.settings) as saver:
            tup = await saver.aget_tuple({"configurable": {"thread_id": session_id}})
            return 0 if tup is None else 1

    return asyncio.run(run())


def test_export_then_delete_everything_about_a_student(world: World) -> None:
    skill = _skill(world)
    exp = world.admin.post(
        "/v1/experiments",
        json={"name": "ladder", "factor": "policy",
              "arms": [{"name": "a"}, {"name": "b", "config": {"hint_ladder": 2}}]},
    ).json()  # fmt: skip
    sid = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
    ).json()["id"]
    text = "My name is Jamal Carter. I think the girl is brave."
    r = world.student.post(
        f"/v1/sessions/{sid}/messages", json={"text": text}, headers={"Idempotency-Key": "e1"}
    )
    assert r.status_code == 200, r.text
    world.partner.post("/v1/students/s1/graded-responses", json={"skill": skill, "correct": False})

    export = world.partner.get("/v1/students/s1/export")
    assert export.status_code == 200, export.text
    data = export.json()
    assert data["student"]["id"] == "s1"
    assert [c["id"] for c in data["classes"]] == [world.class_id]
    (session,) = data["sessions"]
    assert session["id"] == sid and session["messages"][0]["text"] == text
    assert len(data["graded_responses"]) == 1
    assert data["xapi_statements"]
    assert any(m["skill"] == skill for m in data["mastery"])

    before = _counts(world, "s1")
    assert before["messages"] == 1 and before["sessions"] == 1 and before["graded"] == 1
    assert _checkpoint_turns(world, sid) == 1

    r = world.partner.delete("/v1/students/s1")
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["tutoring_sessions"] == 1
    assert r.json()["deleted"]["experiment_outcomes"] >= 3  # the turn's cost, length, hints
    report = world.admin.get(f"/v1/experiments/{exp['id']}/report").json()
    assert report["verdict"] == "no outcomes yet" and report["metrics"] == {}
    assert _counts(world, "s1") == {k: 0 for k in before}
    assert _checkpoint_turns(world, sid) == 0
    assert _p(world, world.admin, "s1", skill) == 0.0
    assert_problem(world.partner.get("/v1/students/s1/export"), 404)
    assert_problem(world.partner.delete("/v1/students/s1"), 404)
    assert_problem(world.admin.get(f"/v1/sessions/{sid}"), 404)
    # s2, in the same class, is untouched
    assert "s2" in {s["id"] for s in world.teacher.get("/v1/students").json()["items"]}


def test_a_delete_that_fails_at_its_last_step_erases_nothing(world: World, monkeypatch) -> None:
    """FERPA delete is one transaction: when its last step (usage rows) fails after the
    sessions, messages, checkpoints, mastery and vault rows were deleted, all of it is
    rolled back, the student is still there to export, and a retry erases everything."""
    from readloom.llm.usage import UsageLedger

    skill = _skill(world)
    sid = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
    ).json()["id"]
    r = world.student.post(f"/v1/sessions/{sid}/messages", json={"text": "the girl is brave"})
    assert r.status_code == 200, r.text
    world.partner.post("/v1/students/s1/graded-responses", json={"skill": skill, "correct": True})
    before = _counts(world, "s1")
    p_before = _p(world, world.admin, "s1", skill)
    assert before["messages"] == 1 and p_before > 0

    def fail(*_args, **_kwargs):
        raise RuntimeError("the database went away mid-erasure")

    monkeypatch.setattr(UsageLedger, "forget_student", fail)
    r = world.partner.delete("/v1/students/s1")
    assert r.status_code >= 500
    assert _counts(world, "s1") == before  # nothing half-deleted
    assert _checkpoint_turns(world, sid) == 1
    assert _p(world, world.admin, "s1", skill) == p_before
    export = world.partner.get("/v1/students/s1/export").json()
    assert [s["id"] for s in export["sessions"]] == [sid]

    monkeypatch.undo()
    assert world.partner.delete("/v1/students/s1").status_code == 200
    assert _counts(world, "s1") == {k: 0 for k in before}
    assert _checkpoint_turns(world, sid) == 0


DISCLOSURE = "kids at school keep picking on me"  # a bullying disclosure: a teacher alert


def _alert_sessions(client, **params) -> set[str]:
    r = client.get("/v1/alerts", params={"status": "all"} | params)
    assert r.status_code == 200, r.text
    return {a["session_id"] for a in r.json()["items"]}


def _audit_rows(w: World, session_id: str) -> dict[str, int]:
    """What the audit store itself holds for a session, and the tenant's erasure events."""
    queries = {
        "alerts": ("SELECT count(*) FROM alerts WHERE session = ?", session_id),
        "audit_events": ("SELECT count(*) FROM audit_events WHERE session = ?", session_id),
        "erasures": (
            "SELECT count(*) FROM audit_events WHERE kind = 'ferpa_erasure' AND tenant = ?",
            w.tenant,
        ),
    }
    from sqlalchemy import text

    from readloom.storage.db import sync_engine

    engine = sync_engine(w.server.settings)  # the one database, whichever backend
    try:
        with engine.connect() as conn:
            return {
                k: conn.execute(text(sql.replace("?", ":arg")), {"arg": arg}).scalar_one()
                for k, (sql, arg) in queries.items()
            }
    finally:
        engine.dispose()


def test_delete_erases_the_students_alerts_and_keeps_others(world: World) -> None:
    sids = {}
    for student, client in (("s1", world.student), ("s2", world.partner)):
        sids[student] = world.partner.post(
            "/v1/sessions",
            json={"student_id": student, "grade": 4, "passage_id": world.passage_id},
        ).json()["id"]
        r = client.post(f"/v1/sessions/{sids[student]}/messages", json={"text": DISCLOSURE})
        assert r.status_code == 200, r.text
    assert set(sids.values()) <= _alert_sessions(world.teacher)
    (alert,) = world.partner.get("/v1/students/s1/export").json()["alerts"]
    assert alert["session_id"] == sids["s1"] and alert["kind"] == "bullying"
    assert _audit_rows(world, sids["s1"])["alerts"] == 1

    r = world.partner.delete("/v1/students/s1")
    assert r.status_code == 200, r.text
    deleted = r.json()["deleted"]
    assert deleted["alerts"] == 1 and deleted["audit_events"] >= 2  # the alert, its event

    # gone from the store itself, not only hidden by the queue's session filter
    assert _audit_rows(world, sids["s1"]) == {"alerts": 0, "audit_events": 0, "erasures": 1}
    assert sids["s1"] not in _alert_sessions(world.teacher)
    assert sids["s1"] not in _alert_sessions(world.admin)
    assert_problem(world.partner.get("/v1/students/s1/export"), 404)
    # s2's alert stays: in the teacher's queue, in s2's export, in the store
    assert sids["s2"] in _alert_sessions(world.teacher, status="open")
    export = world.partner.get("/v1/students/s2/export").json()
    assert [a["session_id"] for a in export["alerts"]] == [sids["s2"]]
    assert _audit_rows(world, sids["s2"])["alerts"] == 1


def _usage_rows(w: World, ids: list[str]) -> int:
    from sqlalchemy import bindparam, text

    from readloom.storage.db import sync_engine

    engine = sync_engine(w.server.settings)
    try:
        with engine.connect() as conn:
            stmt = text(
                "SELECT count(*) FROM llm_usage WHERE tenant = :t AND student_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True))
            return conn.execute(stmt, {"t": w.tenant, "ids": ids}).scalar_one()
    finally:
        engine.dispose()


def test_delete_leaves_no_student_id_on_usage_rows(world: World) -> None:
    """Finding: the usage ledger kept the student's rows. They stay in the tenant's
    totals (billing) but no longer name the student, in the same transaction."""
    sid = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
    ).json()["id"]
    r = world.student.post(f"/v1/sessions/{sid}/messages", json={"text": "Who is in the story?"})
    assert r.status_code == 200, r.text
    ids = [f"{world.tenant}/s1", "s1"]
    before = _usage_rows(world, ids)
    assert before >= 1
    r = world.partner.delete("/v1/students/s1")
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["usage_rows_pseudonymised"] == before
    assert _usage_rows(world, ids) == 0
