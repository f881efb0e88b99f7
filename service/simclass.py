"""A seeded simulated class: students, tutoring sessions, graded answers, LMS quiz
results, alerts with their clocks and assignments, spread over some weeks.

Used by the insights benchmark and tests (30 students × 4 weeks) and by the local demo,
so the teacher's insights have a history to show. Every row is what the real code paths
store (redacted placeholders for text, pseudonymous ids), written with the same models;
no real child's data. Why our own: the rows must be exactly readloom's tables.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from readloom.storage.models import (
    Base,
    Classroom,
    ClassStudent,
    ClassTeacher,
    GradedResponse,
    Message,
    Student,
    Tenant,
    TutoringSession,
    new_id,
    utcnow,
)
from readloom.storage.models_insights import AlertTiming, ClassAssignment

SKILLS = (
    "ask_answer_questions", "retell_key_details", "story_elements", "central_idea",
    "vocab_in_context", "cause_effect", "sequence_events",
)  # fmt: skip
PASSAGES = (
    "kofi-and-the-big-puddle", "how-seeds-travel", "the-snow-day-sled", "honey-bees-at-work",
    "mei-and-the-red-kite", "the-water-cycle", "priyas-sunflower", "from-tadpole-to-frog",
)  # fmt: skip
ALERT_AFTER = 5  # wrong answers in a row, as the intervention agent counts them


@dataclass(frozen=True)
class SimSpec:
    tenant: str = "sim-district"
    class_id: str = "sim-class"
    teacher: str = "sim-teacher"
    students: int = 30
    weeks: int = 4
    grade: int = 4
    seed: int = 19
    create_class: bool = True
    student_ids: tuple[str, ...] = ()  # use these ids (an existing roster) instead


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def simulate(spec: SimSpec, *, end: datetime | None = None) -> list[Base]:
    """The rows, in an order that satisfies foreign keys; add them and commit."""
    rng = random.Random(spec.seed)
    end = end or utcnow()
    start = end - timedelta(weeks=spec.weeks)
    ids = list(spec.student_ids) or [f"sim-s{i:02d}" for i in range(1, spec.students + 1)]
    rows: list[Base] = []
    if spec.create_class:
        rows.append(Tenant(id=spec.tenant, home_page=f"https://{spec.tenant}.example"))
        rows.append(
            Classroom(
                id=spec.class_id, tenant_id=spec.tenant, name=f"Grade {spec.grade} (simulated)"
            )
        )
        rows.append(ClassTeacher(class_id=spec.class_id, teacher_id=spec.teacher))
        for sid in ids:
            rows.append(Student(tenant_id=spec.tenant, id=sid, grade=spec.grade))
            rows.append(ClassStudent(class_id=spec.class_id, student_id=sid))
    difficulty = {k: rng.uniform(-0.6, 0.9) for k in SKILLS}
    hard_passage = {p: rng.uniform(-0.4, 0.8) for p in PASSAGES}
    assigned = [PASSAGES[i] for i in range(3)]
    for w, pid in enumerate(assigned):
        rows.append(ClassAssignment(
            id=new_id("asg"), tenant_id=spec.tenant, class_id=spec.class_id, passage_id=pid,
            assigned_at=start + timedelta(weeks=w), due_at=start + timedelta(weeks=w + 1),
            created_by=spec.teacher,
        ))  # fmt: skip
    for sid in ids:
        rows += _student(rng, spec, sid, start, difficulty, hard_passage, assigned)
    return rows


def _student(rng, spec, sid, start, difficulty, hard_passage, assigned) -> list[Base]:
    ability = rng.gauss(0, 1)
    per_week = rng.choice([0, 1, 2, 2, 3, 3, 4, 5])
    stops_after = spec.weeks if rng.random() > 0.15 else rng.randint(1, spec.weeks - 1)
    weak = rng.choice(SKILLS)
    practice: dict[str, int] = {}
    rows: list[Base] = []
    for week in range(spec.weeks):
        if week >= stops_after:
            break
        week_start = start + timedelta(weeks=week)
        for _ in range(per_week):
            at = week_start + timedelta(days=rng.randint(0, 4), hours=rng.randint(8, 15),
                                        minutes=rng.randint(0, 59))  # fmt: skip
            pid = (
                assigned[week]
                if week < len(assigned) and rng.random() < 0.6
                else rng.choice(PASSAGES)
            )
            rows += _session(
                rng, spec, sid, at, pid, ability, weak, practice, difficulty, hard_passage
            )
        for q in range(3):  # the LMS's weekly quiz
            skill = rng.choice(SKILLS)
            p = _sigmoid(ability + 0.25 * practice.get(skill, 0) - difficulty[skill])
            rows.append(GradedResponse(
                id=new_id("gr"), tenant_id=spec.tenant, student_id=sid, skill=skill,
                correct=rng.random() < p, item_id=f"quiz-w{week + 1}-q{q + 1}",
                occurred_at=week_start + timedelta(days=4, hours=14, minutes=q),
            ))  # fmt: skip
    return rows


def _session(
    rng, spec, sid, at, pid, ability, weak, practice, difficulty, hard_passage
) -> list[Base]:
    session_id = new_id("ses")
    rows: list[Base] = [TutoringSession(
        id=session_id, tenant_id=spec.tenant, student_id=sid, grade=spec.grade, passage_id=pid,
        created_at=at,
    )]  # fmt: skip
    wrong_run: list[datetime] = []
    hint_level = 0
    alerted = False
    for seq in range(1, rng.randint(3, 12) + 1):
        pause = rng.randint(40, 240) if rng.random() > 0.1 else rng.randint(400, 1200)  # away
        at = at + timedelta(seconds=pause)
        meta: dict[str, Any] = {"move": "probe", "blocked": False, "provider": "offline",
                                "model": "simulated", "intervention": None, "grade_result": None}  # fmt: skip
        if rng.random() < 0.75:
            skill = weak if rng.random() < 0.3 else rng.choice(SKILLS)
            boost = 0.2 * practice.get(skill, 0) + 0.4 * hint_level
            penalty = difficulty[skill] + hard_passage[pid] + (1.2 if skill == weak else 0)
            correct = rng.random() < _sigmoid(ability + boost - penalty)
            practice[skill] = practice.get(skill, 0) + 1
            meta["grade_result"] = {
                "correct": correct,
                "score": 1.0 if correct else 0.1,
                "skill": skill,
            }
            if correct:
                meta["move"], wrong_run, hint_level = "affirm", [], 0
            else:
                wrong_run.append(at)
                hint_level += 1
                meta["move"] = "hint"
                meta["intervention"] = {
                    "kind": "escalate_hint",
                    "reason": "struggling",
                    "hint_level": hint_level,
                }
        else:
            meta["move"] = "hint"  # a help request
        if len(wrong_run) >= ALERT_AFTER and not alerted:
            alerted = True
            meta["intervention"] = {
                "kind": "teacher_alert",
                "reason": "repeated_failure",
                "hint_level": hint_level,
            }
            seen = (
                None if rng.random() < 0.2 else at + timedelta(minutes=rng.uniform(3, 2 * 24 * 60))
            )
            rows.append(AlertTiming(
                tenant_id=spec.tenant, alert_id=new_id("simalert"), session_id=session_id,
                student_id=sid, kind="repeated_failure", trouble_began_at=wrong_run[0],
                raised_at=at, notified_at=at + timedelta(seconds=rng.uniform(0.2, 3)),
                seen_at=seen, seen_how=None if seen is None else rng.choice(["opened", "acknowledged"]),
            ))  # fmt: skip
        rows.append(Message(
            session_id=session_id, seq=seq, role="student", text="[simulated answer]",
            reply="[simulated reply]", meta=meta, created_at=at,
        ))  # fmt: skip
    return rows


FK_ORDER = (Tenant, Classroom, ClassTeacher, Student, ClassStudent, ClassAssignment,
            TutoringSession, GradedResponse, Message, AlertTiming)  # fmt: skip


def in_fk_order(rows: list[Base]) -> list[list[Base]]:
    """The rows in groups that can be flushed one after another (parents first): the
    models declare no relationships, so the session does not order them itself."""
    return [[r for r in rows if type(r) is kind] for kind in FK_ORDER]


def write(settings: Any, spec: SimSpec, *, end: datetime | None = None) -> int:
    """Simulate and commit (synchronously); returns the number of rows written."""
    from sqlalchemy.orm import Session

    from readloom.storage.db import sync_engine

    rows = simulate(spec, end=end)
    engine = sync_engine(settings)
    try:
        with Session(engine) as s, s.begin():
            if not spec.create_class or s.get(Tenant, spec.tenant) is not None:
                rows = [r for r in rows if not isinstance(r, Tenant)]
            for group in in_fk_order(rows):
                s.add_all(group)
                s.flush()
    finally:
        engine.dispose()
    return len(rows)
