"""A class at a glance: every student's mastery per skill and their recommended next step.

One call for the teacher page's heatmap (instead of two per student), with the skill
columns in teaching order (prerequisites first) and their names and strands.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from readloom.api.auth import Principal
from readloom.api.deps import RuntimeDep, ServiceDep, allow
from readloom.api.schemas import RecommendationOut
from readloom.errors import NotFound, ReadloomError
from readloom.mlops.recommendation_log import log_recommendations
from readloom.service import learner
from readloom.storage.models import Classroom, ClassStudent, ClassTeacher, Student, TenantPassage

router = APIRouter(prefix="/v1/classes", tags=["classes"])

Viewer = Annotated[Principal, allow("teacher", "partner", "admin")]


class SkillColumn(BaseModel):
    id: str
    name: str
    strand: str
    grades: tuple[int, int]


class StudentMasteryRow(BaseModel):
    student_id: str
    grade: int | None
    mastery: dict[str, float] = Field(description="P(mastered) per practised skill")
    attempts: dict[str, int] = Field(description="Answers graded per practised skill")
    recommendation: RecommendationOut | None


class ClassMasteryOut(BaseModel):
    class_id: str
    name: str
    mastered_at: float = Field(description="P(mastered) from which a skill counts as mastered")
    skills: list[SkillColumn] = Field(description="Every skill, prerequisites first")
    students: list[StudentMasteryRow]


@router.get("/{class_id}/mastery", response_model=ClassMasteryOut)
async def get_class_mastery(
    class_id: str, principal: Viewer, rt: RuntimeDep, service: ServiceDep
) -> ClassMasteryOut:
    """Mastery per skill for every student of the class, and each one's next step."""
    tenant = principal.tenant
    async with rt.db.reader() as s:
        c = await s.get(Classroom, class_id)
        mine = (
            principal.role != "teacher"
            or await s.get(ClassTeacher, (class_id, principal.subject)) is not None
        )
        if c is None or c.tenant_id != tenant or not mine:
            raise NotFound(f"no class {class_id!r}")
        rows = (
            await s.execute(
                select(ClassStudent.student_id, Student.grade)
                .outerjoin(
                    Student, (Student.tenant_id == tenant) & (Student.id == ClassStudent.student_id)
                )
                .where(ClassStudent.class_id == class_id)
                .order_by(ClassStudent.student_id)
            )
        ).all()
        hidden = set(
            (
                await s.execute(
                    select(TenantPassage.passage_id).where(TenantPassage.tenant_id != tenant)
                )
            ).scalars()
        )
    students = []
    for student_id, grade in rows:
        skills = await learner.mastery(service, tenant, student_id)
        try:
            rec = await learner.recommend(
                service, tenant, student_id, grade=grade or 5, hidden=hidden
            )
        except ReadloomError:  # e.g. nothing left to recommend at this grade
            rec = None
        students.append(
            StudentMasteryRow(
                student_id=student_id,
                grade=grade,
                mastery={m.skill: round(m.p_mastery, 4) for m in skills},
                attempts={m.skill: m.attempts for m in skills},
                recommendation=rec,
            )  # fmt: skip
        )
    async with rt.db.writer() as s:  # the monitor's recommendation mix (no student)
        await log_recommendations(s, tenant, [row.recommendation for row in students])
    graph = service.services.skills
    columns = await anyio.to_thread.run_sync(
        lambda: [
            SkillColumn(id=k.id, name=k.name, strand=k.strand, grades=k.grades)
            for k in graph.skills
        ]
    )
    return ClassMasteryOut(
        class_id=class_id, name=c.name, mastered_at=learner.MASTERED, skills=columns,
        students=students,
    )  # fmt: skip
