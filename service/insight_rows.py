"""The raw rows the analytics agent works from, read from the one database and put
into plain, typed records: every turn a student took, every graded answer (tutoring
turns and the LMS's graded responses), alert timings and the class's assignments.

Kept apart from the arithmetic (``service/analytics.py``) so the test that recomputes
every figure can read the same rows its own way and compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from readloom.storage.models import (
    Classroom,
    ClassStudent,
    GradedResponse,
    Message,
    Student,
    TutoringSession,
)
from readloom.storage.models_insights import AlertTiming, ClassAssignment

HINT_MOVES = frozenset({"hint", "alternate_explanation"})


@dataclass(frozen=True)
class Graded:
    at: datetime
    student_id: str
    skill: str
    correct: bool
    assisted: bool  # answered right only after a hint (or graded "assisted")
    passage_id: str | None
    item_id: str | None  # the LMS's item, for graded responses
    source: str  # "tutor" | "lms"


@dataclass(frozen=True)
class TurnRow:
    at: datetime
    student_id: str
    session_id: str
    passage_id: str | None
    hint: bool
    skill: str | None  # the skill of the question being worked on (last graded in the session)


@dataclass
class ClassRows:
    class_id: str
    name: str
    tenant: str
    students: dict[str, int | None]  # the class's students and their grades
    cohort: dict[str, int | None] = field(default_factory=dict)  # same-grade tenant students
    turns: list[TurnRow] = field(default_factory=list)  # class students only
    graded: list[Graded] = field(default_factory=list)  # class and cohort students
    timings: list[AlertTiming] = field(default_factory=list)
    assignments: list[ClassAssignment] = field(default_factory=list)


def graded_from_meta(meta: dict[str, Any]) -> tuple[str, bool, str | None] | None:
    """(skill, correct, verdict) of a stored turn, or None when nothing was graded."""
    g = (meta or {}).get("grade_result")
    if not g or not g.get("skill"):
        return None
    return str(g["skill"]), bool(g.get("correct")), g.get("verdict")


def is_hint(meta: dict[str, Any]) -> bool:
    meta = meta or {}
    iv = meta.get("intervention") or {}
    return meta.get("move") in HINT_MOVES or iv.get("kind") == "escalate_hint"


async def class_students(s: AsyncSession, class_id: str, tenant: str) -> dict[str, int | None]:
    rows = await s.execute(
        select(ClassStudent.student_id, Student.grade)
        .outerjoin(Student, (Student.tenant_id == tenant) & (Student.id == ClassStudent.student_id))
        .where(ClassStudent.class_id == class_id)
    )
    return {sid: grade for sid, grade in rows.all()}


async def watermark(s: AsyncSession, tenant: str, class_id: str, students: list[str]) -> str:
    """Changes whenever a row the class's insights depend on is added or changed."""
    msg = await s.execute(
        select(func.count(Message.id), func.max(Message.id))
        .join(TutoringSession, TutoringSession.id == Message.session_id)
        .where(TutoringSession.tenant_id == tenant)
    )
    graded = await s.execute(
        select(func.count(GradedResponse.id), func.max(GradedResponse.created_at)).where(
            GradedResponse.tenant_id == tenant
        )
    )
    timing = await s.execute(
        select(func.count(AlertTiming.id), func.max(AlertTiming.seen_at)).where(
            AlertTiming.tenant_id == tenant
        )
    )
    assign = await s.execute(
        select(func.count(ClassAssignment.id), func.max(ClassAssignment.assigned_at)).where(
            ClassAssignment.class_id == class_id
        )
    )
    parts = [*msg.one(), *graded.one(), *timing.one(), *assign.one(), len(students)]
    return ":".join("" if p is None else str(p) for p in parts)[:200]


async def load(s: AsyncSession, tenant: str, class_id: str, until: datetime) -> ClassRows:
    """Every row of the class (and its grade cohort's graded answers) up to ``until``."""
    c = await s.get(Classroom, class_id)
    assert c is not None and c.tenant_id == tenant
    students = await class_students(s, class_id, tenant)
    grades = {g for g in students.values() if g is not None}
    cohort: dict[str, int | None] = {}
    if grades:
        rows = await s.execute(
            select(Student.id, Student.grade).where(
                Student.tenant_id == tenant, Student.grade.in_(sorted(grades))
            )
        )
        cohort = {sid: g for sid, g in rows.all()}
    out = ClassRows(class_id=class_id, name=c.name, tenant=tenant, students=students, cohort=cohort)
    wanted = sorted(set(students) | set(cohort))
    turn_rows = await s.execute(
        select(
            Message.created_at, Message.meta, TutoringSession.student_id, TutoringSession.id,
            TutoringSession.passage_id,
        )
        .join(TutoringSession, TutoringSession.id == Message.session_id)
        .where(
            TutoringSession.tenant_id == tenant,
            TutoringSession.student_id.in_(wanted),
            Message.created_at < until,
        )
        .order_by(TutoringSession.id, Message.seq)
    )  # fmt: skip
    hinted: dict[str, bool] = {}  # session -> a hint since its last graded answer
    working_on: dict[str, str] = {}  # session -> skill of its last graded answer
    for at, meta, student, session, passage in turn_rows.all():
        hint = is_hint(meta)
        g = graded_from_meta(meta)
        if g is not None:
            working_on[session] = g[0]
        if student in students:
            out.turns.append(TurnRow(at, student, session, passage, hint, working_on.get(session)))
        if g is not None:
            skill, correct, verdict = g
            assisted = verdict == "assisted" or (correct and hinted.get(session, False))
            out.graded.append(Graded(at, student, skill, correct, assisted, passage, None, "tutor"))
            hinted[session] = False
        if hint:
            hinted[session] = True
    lms = await s.execute(
        select(GradedResponse).where(
            GradedResponse.tenant_id == tenant,
            GradedResponse.student_id.in_(wanted),
            GradedResponse.occurred_at < until,
        )
    )
    for r in lms.scalars():
        out.graded.append(
            Graded(r.occurred_at, r.student_id, r.skill, r.correct, False, None, r.item_id, "lms")
        )
    out.graded.sort(key=lambda g: (g.at, g.student_id))
    out.turns.sort(key=lambda t: (t.session_id, t.at))
    timings = await s.execute(
        select(AlertTiming).where(
            AlertTiming.tenant_id == tenant, AlertTiming.student_id.in_(sorted(students))
        )
    )
    out.timings = list(timings.scalars())
    assigns = await s.execute(
        select(ClassAssignment)
        .where(ClassAssignment.class_id == class_id)
        .order_by(ClassAssignment.assigned_at)
    )
    out.assignments = list(assigns.scalars())
    return out
