"""Request dependencies: who is calling, and what they may see.

Tenant and role scoping live here and only here (``Scope``): routes ask the scope for a
session or a student and get a 404 for anything outside the caller's reach, whether it
belongs to another tenant or to a student outside a teacher's classes. A role that may
never use an operation gets a 403 before any lookup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Select, exists, select

from readloom.api.auth import Principal, Role
from readloom.api.problems import Forbidden, RateLimitExceeded, Unauthorized
from readloom.api.runtime import Runtime
from readloom.errors import NotFound
from readloom.service import Readloom, library
from readloom.storage.models import (
    Classroom,
    ClassStudent,
    ClassTeacher,
    Student,
    TenantPassage,
    TutoringSession,
)

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rlk_…`")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_service(rt: RuntimeDep) -> Readloom:
    return rt.require_service()


ServiceDep = Annotated[Readloom, Depends(get_service)]


async def get_principal(
    rt: RuntimeDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or not creds.credentials:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    principal = await rt.keys.resolve(creds.credentials)
    if principal is None:
        raise Unauthorized("invalid or revoked API key")
    wait = await rt.limiter.limiter.off_loop(rt.limiter.take, principal.key_id)
    if wait > 0:
        raise RateLimitExceeded(
            "rate limit exceeded for this API key", retry_after=max(1, math.ceil(wait))
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def allow(*roles: Role) -> Any:
    """A dependency that refuses (403) callers whose role may not use the operation."""

    async def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"the {principal.role} role may not do this")
        return principal

    return Depends(_check)


class Scope:
    """The caller's window on the tenant's data; every lookup goes through here."""

    def __init__(self, principal: Principal, rt: Runtime):
        self.principal = principal
        self.rt = rt
        self.tenant = principal.tenant

    # --- students ---------------------------------------------------------------------

    def _teacher_sees(self, student_col: Any) -> Any:
        return exists(
            select(ClassStudent.student_id)
            .join(Classroom, Classroom.id == ClassStudent.class_id)
            .join(ClassTeacher, ClassTeacher.class_id == ClassStudent.class_id)
            .where(
                Classroom.tenant_id == self.tenant,
                ClassTeacher.teacher_id == self.principal.subject,
                ClassStudent.student_id == student_col,
            )
        )

    def student_filter(self, student_col: Any) -> Any | None:
        """A WHERE clause limiting ``student_col`` to the students this caller may see."""
        role = self.principal.role
        if role in ("admin", "partner"):
            return None
        if role == "student":
            return student_col == self.principal.subject
        return self._teacher_sees(student_col)

    def scoped(self, stmt: Select[Any], tenant_col: Any, student_col: Any) -> Select[Any]:
        stmt = stmt.where(tenant_col == self.tenant)
        extra = self.student_filter(student_col)
        return stmt if extra is None else stmt.where(extra)

    async def can_see_student(self, student_id: str) -> bool:
        role = self.principal.role
        if role in ("admin", "partner"):
            return True
        if role == "student":
            return student_id == self.principal.subject
        async with self.rt.db.reader() as s:
            return bool((await s.execute(select(self._teacher_sees(student_id)))).scalar())

    async def student(self, student_id: str, *, must_exist: bool = False) -> str:
        """The id back if this caller may see the student, else 404."""
        if not await self.can_see_student(student_id):
            raise NotFound(f"no student {student_id!r} in your scope")
        if must_exist:
            async with self.rt.db.reader() as s:
                if await s.get(Student, (self.tenant, student_id)) is None:
                    raise NotFound(f"no student {student_id!r} in your scope")
        return student_id

    # --- sessions ---------------------------------------------------------------------

    async def session(self, session_id: str) -> TutoringSession:
        async with self.rt.db.reader() as s:
            stmt = self.scoped(
                select(TutoringSession).where(TutoringSession.id == session_id),
                TutoringSession.tenant_id,
                TutoringSession.student_id,
            )
            row = (await s.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no session {session_id!r}")
        return row

    # --- passages ---------------------------------------------------------------------

    async def passage_visible(self, passage_id: str) -> bool:
        """Shipped and admin-published passages are shared; the rest belong to their tenant
        (a teacher's pasted text to that teacher and their classes). No row, not shipped:
        invisible (``service.library``)."""
        return passage_id not in await self.hidden_passages([passage_id])

    async def hidden_passages(self, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` this caller may not read."""
        if not ids:
            return set()
        ids = list(dict.fromkeys(ids))
        async with self.rt.db.reader() as s:
            rows = {
                r.passage_id: r
                for r in (
                    await s.execute(select(TenantPassage).where(TenantPassage.passage_id.in_(ids)))
                ).scalars()
            }
            creators = {
                r.created_by
                for r in rows.values()
                if r.visibility == "private" and r.created_by and r.tenant_id == self.tenant
            }
            my_teachers: set[str] = set()
            if creators and self.principal.role == "student":
                found = await s.execute(
                    select(ClassTeacher.teacher_id)
                    .join(Classroom, Classroom.id == ClassTeacher.class_id)
                    .join(ClassStudent, ClassStudent.class_id == ClassTeacher.class_id)
                    .where(
                        Classroom.tenant_id == self.tenant,
                        ClassStudent.student_id == self.principal.subject,
                        ClassTeacher.teacher_id.in_(sorted(creators)),
                    )
                )
                my_teachers = {t[0] for t in found}
        viewer = library.Viewer(self.tenant, self.principal.role, self.principal.subject)
        corpus = self.rt.settings.corpus_path
        hidden = set()
        for pid in ids:
            row = rows.get(pid)
            owner = None if row is None else library.Ownership(
                row.tenant_id, row.visibility, row.created_by, bool(row.ready)
            )  # fmt: skip
            visible = library.may_read(
                viewer, owner, shipped=row is None and library.is_shipped(corpus, pid),
                in_creators_class=row is not None and row.created_by in my_teachers,
            )  # fmt: skip
            if not visible:
                hidden.add(pid)
        return hidden


def get_scope(principal: PrincipalDep, rt: RuntimeDep) -> Scope:
    return Scope(principal, rt)


ScopeDep = Annotated[Scope, Depends(get_scope)]
