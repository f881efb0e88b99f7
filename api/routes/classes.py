"""Rosters: classes with their teachers and students (pseudonymous ids from the partner).

A teacher sees the students of their classes only; partners and admins manage rosters.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from readloom.api import idempotency
from readloom.api.auth import Principal, ensure_tenant
from readloom.api.deps import RuntimeDep, allow
from readloom.api.idempotency import IdempotencyKey
from readloom.api.schemas import ClassIn, ClassList, ClassOut, Pseudonym
from readloom.errors import NotFound
from readloom.storage.models import Classroom, ClassStudent, ClassTeacher, Student, new_id

router = APIRouter(prefix="/v1/classes", tags=["classes"])

Manager = Annotated[Principal, allow("partner", "admin")]
Viewer = Annotated[Principal, allow("teacher", "partner", "admin")]


async def _class_out(s: AsyncSession, c: Classroom) -> ClassOut:
    teachers = (
        await s.execute(select(ClassTeacher.teacher_id).where(ClassTeacher.class_id == c.id))
    ).scalars()
    students = (
        await s.execute(select(ClassStudent.student_id).where(ClassStudent.class_id == c.id))
    ).scalars()
    return ClassOut(
        id=c.id, name=c.name, teacher_ids=sorted(teachers), student_ids=sorted(students),
        created_at=c.created_at,
    )  # fmt: skip


async def _visible_class(s: AsyncSession, principal: Principal, class_id: str) -> Classroom:
    c = await s.get(Classroom, class_id)
    if c is None or c.tenant_id != principal.tenant:
        raise NotFound(f"no class {class_id!r}")
    if principal.role == "teacher":
        mine = await s.get(ClassTeacher, (class_id, principal.subject))
        if mine is None:
            raise NotFound(f"no class {class_id!r}")
    return c


async def _ensure_students(s: AsyncSession, tenant: str, ids: list[str]) -> None:
    for sid in ids:
        if await s.get(Student, (tenant, sid)) is None:
            s.add(Student(tenant_id=tenant, id=sid))


@router.post("", status_code=201, response_model=ClassOut)
async def create_class(
    body: ClassIn,
    request: Request,
    principal: Manager,
    rt: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    async def work(claim: idempotency.Claim | None) -> tuple[int, dict[str, Any]]:
        async with rt.db.writer() as s:
            await ensure_tenant(s, principal.tenant)
            c = Classroom(id=new_id("cls"), tenant_id=principal.tenant, name=body.name)
            s.add(c)
            await s.flush()
            for t in sorted(set(body.teacher_ids)):
                s.add(ClassTeacher(class_id=c.id, teacher_id=t))
            await _ensure_students(s, principal.tenant, sorted(set(body.student_ids)))
            for st in sorted(set(body.student_ids)):
                s.add(ClassStudent(class_id=c.id, student_id=st))
            await s.flush()
            out = (await _class_out(s, c)).model_dump(mode="json")
            await idempotency.complete(s, claim, 201, out)
        return 201, out

    return await idempotency.run_once(rt, principal, request, idempotency_key, work)


@router.get("", response_model=ClassList)
async def list_classes(principal: Viewer, rt: RuntimeDep) -> ClassList:
    stmt = select(Classroom).where(Classroom.tenant_id == principal.tenant)
    if principal.role == "teacher":
        stmt = stmt.join(ClassTeacher, ClassTeacher.class_id == Classroom.id).where(
            ClassTeacher.teacher_id == principal.subject
        )
    async with rt.db.reader() as s:
        rows = (await s.execute(stmt.order_by(Classroom.created_at))).scalars().all()
        return ClassList(items=[await _class_out(s, c) for c in rows])


@router.get("/{class_id}", response_model=ClassOut)
async def get_class(class_id: str, principal: Viewer, rt: RuntimeDep) -> ClassOut:
    async with rt.db.reader() as s:
        return await _class_out(s, await _visible_class(s, principal, class_id))


@router.delete("/{class_id}", status_code=204)
async def delete_class(class_id: str, principal: Manager, rt: RuntimeDep) -> Response:
    async with rt.db.writer() as s:
        c = await _visible_class(s, principal, class_id)
        await s.execute(delete(ClassStudent).where(ClassStudent.class_id == c.id))
        await s.execute(delete(ClassTeacher).where(ClassTeacher.class_id == c.id))
        await s.delete(c)
    return Response(status_code=204)


@router.put("/{class_id}/students/{student_id}", response_model=ClassOut)
async def enroll_student(
    class_id: str, student_id: Pseudonym, principal: Manager, rt: RuntimeDep
) -> ClassOut:
    async with rt.db.writer() as s:
        c = await _visible_class(s, principal, class_id)
        await _ensure_students(s, principal.tenant, [student_id])
        if await s.get(ClassStudent, (class_id, student_id)) is None:
            s.add(ClassStudent(class_id=class_id, student_id=student_id))
        await s.flush()
        return await _class_out(s, c)


@router.delete("/{class_id}/students/{student_id}", status_code=204)
async def unenroll_student(
    class_id: str, student_id: str, principal: Manager, rt: RuntimeDep
) -> Response:
    async with rt.db.writer() as s:
        await _visible_class(s, principal, class_id)
        await s.execute(
            delete(ClassStudent).where(
                ClassStudent.class_id == class_id, ClassStudent.student_id == student_id
            )
        )
    return Response(status_code=204)


@router.put("/{class_id}/teachers/{teacher_id}", response_model=ClassOut)
async def assign_teacher(
    class_id: str, teacher_id: Pseudonym, principal: Manager, rt: RuntimeDep
) -> ClassOut:
    async with rt.db.writer() as s:
        c = await _visible_class(s, principal, class_id)
        if await s.get(ClassTeacher, (class_id, teacher_id)) is None:
            s.add(ClassTeacher(class_id=class_id, teacher_id=teacher_id))
        await s.flush()
        return await _class_out(s, c)


@router.delete("/{class_id}/teachers/{teacher_id}", status_code=204)
async def unassign_teacher(
    class_id: str, teacher_id: str, principal: Manager, rt: RuntimeDep
) -> Response:
    async with rt.db.writer() as s:
        await _visible_class(s, principal, class_id)
        await s.execute(
            delete(ClassTeacher).where(
                ClassTeacher.class_id == class_id, ClassTeacher.teacher_id == teacher_id
            )
        )
    return Response(status_code=204)
