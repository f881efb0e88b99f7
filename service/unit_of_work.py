"""One unit of work: a request's rows, its xAPI statements, its webhook events and its
idempotent answer, committed in one transaction, so a partner never hears of an effect
that did not happen and a replay never finds an effect without its answer. The outbox
worker is woken once the transaction has committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from readloom.service import idempotency, outbox, xapi
from readloom.service.idempotency import Claim
from readloom.service.runtime import CoreRuntime
from readloom.service.tenants import ensure_tenant
from readloom.storage.models import Student


class UnitOfWork:
    """The open transaction (``session``) of one tenant, with its side effects."""

    def __init__(self, session: AsyncSession, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    async def ensure_student(self, student_id: str, grade: int | None = None) -> None:
        """The student's row, created on first sight; ``grade`` (if given) kept current."""
        student = await self.session.get(Student, (self.tenant, student_id))
        if student is None:
            self.session.add(Student(tenant_id=self.tenant, id=student_id, grade=grade))
        elif grade is not None:
            student.grade = grade

    async def statement(self, *, student_id: str, **kwargs: Any) -> dict[str, Any]:
        """An xAPI statement (``service/xapi.record``), queued for the tenant's webhooks."""
        return await xapi.record(self.session, tenant=self.tenant, student_id=student_id, **kwargs)

    async def event(
        self, event_type: str, data: dict[str, Any], *, student_id: str | None = None
    ) -> int:
        """A webhook event for the tenant's subscribers; returns the deliveries queued."""
        return await outbox.enqueue(
            self.session, tenant=self.tenant, event_type=event_type, data=data,
            student_id=student_id,
        )  # fmt: skip

    async def answer(self, claim: Claim | None, status: int, body: dict[str, Any]) -> None:
        """The request's idempotent answer, stored with its effects."""
        await idempotency.complete(self.session, claim, status, body)


@asynccontextmanager
async def unit_of_work(
    rt: CoreRuntime, tenant: str, *, new_tenant: bool = False
) -> AsyncIterator[UnitOfWork]:
    """One transaction for ``tenant`` (created first if ``new_tenant``); the outbox is
    nudged after it commits, never for one that rolled back."""
    async with rt.db.writer() as s:
        if new_tenant:
            await ensure_tenant(s, tenant)
        yield UnitOfWork(s, tenant)
    if rt.outbox:
        rt.outbox.nudge()
