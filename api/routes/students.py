"""Students: roster view, mastery per skill, next step, LMS-graded responses, and the
FERPA rights (export everything held about a student; delete it all)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from readloom.api import idempotency
from readloom.api.auth import Principal
from readloom.api.deps import RuntimeDep, ScopeDep, ServiceDep, allow
from readloom.api.idempotency import IdempotencyKey
from readloom.api.schemas import (
    GradedResponseIn,
    GradedResponseList,
    GradedResponseOut,
    MasteryOut,
    Pseudonym,
    RecommendationOut,
    StudentList,
    StudentOut,
)
from readloom.errors import NotFound
from readloom.mlops.recommendation_log import log_recommendations
from readloom.service import analytics, ferpa, learner
from readloom.service.unit_of_work import unit_of_work
from readloom.storage.models import (
    GradedResponse,
    Student,
    TenantPassage,
    TutoringSession,
    new_id,
    utcnow,
)

router = APIRouter(prefix="/v1/students", tags=["students"])

Integrator = Annotated[Principal, allow("partner", "admin")]


def _graded_out(g: GradedResponse, p: float | None = None) -> GradedResponseOut:
    return GradedResponseOut(
        id=g.id, student_id=g.student_id, skill=g.skill, correct=g.correct, score=g.score,
        item_id=g.item_id, occurred_at=g.occurred_at, p_mastery=p,
    )  # fmt: skip


@router.get("", response_model=StudentList)
async def list_students(
    scope: ScopeDep, rt: RuntimeDep, limit: Annotated[int, Query(ge=1, le=5000)] = 1000
) -> StudentList:
    """The students the caller may see (a teacher: their classes')."""
    stmt = scope.scoped(select(Student), Student.tenant_id, Student.id).order_by(Student.id)
    async with rt.db.reader() as s:
        rows = (await s.execute(stmt.limit(limit))).scalars().all()
    return StudentList(
        items=[StudentOut(id=r.id, grade=r.grade, created_at=r.created_at) for r in rows]
    )


@router.get("/{student_id}/mastery", response_model=MasteryOut)
async def get_mastery(student_id: str, scope: ScopeDep, service: ServiceDep) -> MasteryOut:
    """Estimated probability of mastery per reading skill (BKT)."""
    await scope.student(student_id)
    skills = await learner.mastery(service, scope.tenant, student_id)
    return MasteryOut(
        student_id=student_id, skills=skills, provenance=await learner.provenance(service)
    )


@router.get("/{student_id}/recommendation", response_model=RecommendationOut)
async def get_recommendation(
    student_id: str,
    scope: ScopeDep,
    service: ServiceDep,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
) -> RecommendationOut:
    """The next skill to practise and a passage for it (mastery + prerequisite graph)."""
    await scope.student(student_id)
    if grade is None:
        async with scope.rt.db.reader() as s:
            row = await s.get(Student, (scope.tenant, student_id))
        grade = row.grade if row is not None and row.grade else 5
    async with scope.rt.db.reader() as s:
        hidden = set(
            (
                await s.execute(
                    select(TenantPassage.passage_id).where(TenantPassage.tenant_id != scope.tenant)
                )
            ).scalars()
        )
    rec = await learner.recommend(service, scope.tenant, student_id, grade=grade, hidden=hidden)
    async with scope.rt.db.writer() as s:  # the monitor's recommendation mix (no student)
        await log_recommendations(s, scope.tenant, [rec])
    return rec


@router.post("/{student_id}/graded-responses", status_code=201, response_model=GradedResponseOut)
async def post_graded_response(
    student_id: Pseudonym,
    body: GradedResponseIn,
    request: Request,
    principal: Integrator,
    rt: RuntimeDep,
    service: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """A quiz result from the LMS; it updates the student's mastery of the skill."""
    learner.check_skill(service, body.skill)

    async def work(claim: idempotency.Claim | None) -> tuple[int, dict[str, Any]]:
        p = await learner.record(service, principal.tenant, student_id, body.skill, body.correct)
        async with unit_of_work(rt, principal.tenant, new_tenant=True) as uow:
            await uow.ensure_student(student_id)
            g = GradedResponse(
                id=new_id("grd"), tenant_id=principal.tenant, student_id=student_id,
                skill=body.skill, correct=body.correct, score=body.score, item_id=body.item_id,
                occurred_at=body.occurred_at or utcnow(),
            )  # fmt: skip
            uow.session.add(g)
            await uow.session.flush()
            out = _graded_out(g, p).model_dump(mode="json")
            result: dict[str, Any] = {"success": body.correct}
            if body.score is not None:
                result["score"] = {"scaled": body.score}
            await uow.statement(
                student_id=student_id, verb="answered", object_kind="skill",
                object_id=body.skill, result=result,
            )  # fmt: skip
            await uow.event(
                "mastery.updated", student_id=student_id,
                data={"student_id": student_id, "skill": body.skill, "p_mastery": p},
            )  # fmt: skip
            await uow.answer(claim, 201, out)
        return 201, out

    return await idempotency.run_once(
        rt, principal, request, idempotency_key, work, student_id=student_id
    )


@router.get("/{student_id}/graded-responses", response_model=GradedResponseList)
async def list_graded_responses(
    student_id: str, scope: ScopeDep, rt: RuntimeDep
) -> GradedResponseList:
    await scope.student(student_id)
    async with rt.db.reader() as s:
        rows = (
            (
                await s.execute(
                    select(GradedResponse)
                    .where(
                        GradedResponse.tenant_id == scope.tenant,
                        GradedResponse.student_id == student_id,
                    )
                    .order_by(GradedResponse.occurred_at)
                )
            )
            .scalars()
            .all()
        )
    return GradedResponseList(items=[_graded_out(g) for g in rows])


async def _session_ids(rt: Any, tenant: str, student_id: str) -> list[str]:
    async with rt.db.reader() as s:
        return list(
            (
                await s.execute(
                    select(TutoringSession.id).where(
                        TutoringSession.tenant_id == tenant,
                        TutoringSession.student_id == student_id,
                    )
                )
            ).scalars()
        )


@router.get("/{student_id}/export")
async def export_student(
    student_id: str, principal: Integrator, rt: RuntimeDep, service: ServiceDep
) -> dict[str, Any]:
    """FERPA: everything readloom holds about the student, as JSON, read in one
    consistent snapshot (``service.ferpa``)."""
    out = await ferpa.export_student(
        rt.db, service, principal.tenant, student_id, role=principal.role
    )
    out["graded_responses"] = [
        _graded_out(g).model_dump(mode="json") for g in out["graded_responses"]
    ]
    return out


@router.delete("/{student_id}")
async def delete_student(
    student_id: str, principal: Integrator, rt: RuntimeDep, service: ServiceDep
) -> dict[str, Any]:
    """FERPA: delete every record of the student in one transaction — rows, pseudonym
    vault entries, mastery, the checkpoints of their sessions, their alerts and audit
    events (the audit log keeps only a ``ferpa_erasure`` event, with no id of the
    student), and their id on usage rows (see ``service.learner.forget``)."""
    tenant = principal.tenant
    session_ids = await _session_ids(rt, tenant, student_id)
    async with rt.db.reader() as s:
        known = await s.get(Student, (tenant, student_id)) is not None
    if not known and not session_ids:
        raise NotFound(f"no student {student_id!r}")
    counts = await learner.forget(service, tenant, student_id, session_ids, role=principal.role)
    analytics.analytics_for(rt.db, service).forget(tenant, student_id)
    return {"student_id": student_id, "deleted": counts}
