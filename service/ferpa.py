"""FERPA export: everything readloom holds about one student, read in one snapshot.

Every table is read inside ``Database.snapshot()``, so a turn, graded response or alert
committed while the export runs is either wholly in it or wholly absent (a message is
never shown without its mastery response, nor an alert without its session). Only
re-identification (the vault, keyed by session) happens after the snapshot.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from readloom.errors import NotFound
from readloom.service import Readloom
from readloom.service.learner import MASTERED, _alert_out, qualified
from readloom.service.views import SkillMastery
from readloom.storage.db import Database
from readloom.storage.models import (
    Classroom,
    ClassStudent,
    GradedResponse,
    Message,
    Student,
    TutoringSession,
    XapiStatement,
    utcnow,
)
from readloom.storage.models_stores import AlertRow, MasteryEstimate, MasteryResponse


async def export_student(
    db: Database, service: Readloom, tenant: str, student_id: str, *, role: str
) -> dict[str, Any]:
    from readloom.guardrails.audit import _alert
    from readloom.service.tutoring import reidentify

    key = qualified(tenant, student_id)
    async with db.snapshot() as s:
        student = await s.get(Student, (tenant, student_id))
        sessions = list(
            (
                await s.execute(
                    select(TutoringSession)
                    .where(
                        TutoringSession.tenant_id == tenant,
                        TutoringSession.student_id == student_id,
                    )
                    .order_by(TutoringSession.created_at)
                )
            ).scalars()
        )
        if student is None and not sessions:
            raise NotFound(f"no student {student_id!r}")
        sids = [x.id for x in sessions]
        classes = (
            await s.execute(
                select(Classroom.id, Classroom.name)
                .join(ClassStudent, ClassStudent.class_id == Classroom.id)
                .where(Classroom.tenant_id == tenant, ClassStudent.student_id == student_id)
            )
        ).all()
        messages: dict[str, list[Message]] = {sid: [] for sid in sids}
        if sids:
            for m in (
                await s.execute(
                    select(Message)
                    .where(Message.session_id.in_(sids))
                    .order_by(Message.session_id, Message.seq)
                )
            ).scalars():
                messages[m.session_id].append(m)
        graded = list(
            (
                await s.execute(
                    select(GradedResponse).where(
                        GradedResponse.tenant_id == tenant, GradedResponse.student_id == student_id
                    )
                )
            ).scalars()
        )
        statements = list(
            (
                await s.execute(
                    select(XapiStatement.statement).where(
                        XapiStatement.tenant_id == tenant, XapiStatement.student_id == student_id
                    )
                )
            ).scalars()
        )
        estimates = (
            await s.execute(
                select(MasteryEstimate.skill, MasteryEstimate.p)
                .where(MasteryEstimate.student_id == key)
                .order_by(MasteryEstimate.skill)
            )
        ).all()
        attempts = dict(
            (
                await s.execute(
                    select(MasteryResponse.skill, func.count())
                    .where(MasteryResponse.student_id == key)
                    .group_by(MasteryResponse.skill)
                )
            ).all()
        )
        alerts = []
        if sids:
            rank = case(
                (AlertRow.severity == "critical", 4),
                (AlertRow.severity == "high", 3),
                (AlertRow.severity == "medium", 2),
                else_=1,
            )
            alerts = [
                _alert_out(_alert(tuple(r)), None).model_dump(mode="json")
                for r in (
                    await s.execute(
                        select(AlertRow.__table__)
                        .where(AlertRow.tenant == tenant, AlertRow.session.in_(sids))
                        .order_by(rank.desc(), AlertRow.id.desc())
                    )
                ).all()
            ]
        exported_at = utcnow().isoformat()

    async def view(text: str, sid: str) -> str:
        return await reidentify(service, text, sid, role=role, purpose="ferpa_export")

    out_sessions = []
    for x in sessions:
        out_sessions.append(
            {
                "id": x.id, "grade": x.grade, "passage_id": x.passage_id,
                "created_at": x.created_at.isoformat(),
                "messages": [
                    {
                        "seq": m.seq, "created_at": m.created_at.isoformat(),
                        "text": await view(m.text, x.id), "reply": await view(m.reply, x.id),
                        "move": (m.meta or {}).get("move"),
                    }
                    for m in messages[x.id]
                ],
            }
        )  # fmt: skip
    return {
        "student": {
            "id": student_id, "tenant": tenant,
            "grade": student.grade if student else None,
            "created_at": student.created_at.isoformat() if student else None,
        },
        "classes": [{"id": c.id, "name": c.name} for c in classes],
        "sessions": out_sessions,
        "graded_responses": graded,  # rows: the caller shapes them
        "mastery": [
            SkillMastery(
                skill=skill, p_mastery=float(p), attempts=int(attempts.get(skill, 0)),
                mastered=float(p) >= MASTERED,
            ).model_dump()
            for skill, p in estimates
        ],
        "alerts": alerts,
        "xapi_statements": statements,
        "exported_at": exported_at,
    }  # fmt: skip
