"""``Database.snapshot()`` (the FERPA export's transaction) sees one state of the
database: rows committed by others after its first read stay invisible to it."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from readloom.settings import Settings
from readloom.storage.db import Database, migrate
from readloom.storage.models import Student, Tenant
from readloom.storage.models_stores import MasteryResponse


async def _count(s, model) -> int:  # type: ignore[no-untyped-def]
    return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def test_snapshot_does_not_see_later_commits(settings: Settings) -> None:
    migrate(settings)

    async def go() -> None:
        db = Database(settings)
        try:
            async with db.writer() as w:
                w.add(Tenant(id="t1", home_page="https://t1.example"))
            async with db.snapshot() as s:
                before = await _count(s, Student)
                async with db.writer() as w:  # a turn committed while the export runs
                    w.add(Student(tenant_id="t1", id="s1", grade=4))
                    w.add(
                        MasteryResponse(
                            student_id="t1/s1", skill="x", correct=1, p_before=0.1,
                            p_after=0.2, at=0.0, event_key="k1",
                        )
                    )  # fmt: skip
                assert await _count(s, Student) == before == 0
                assert await _count(s, MasteryResponse) == 0  # other tables too
            async with db.snapshot() as s:  # a new export sees both
                assert (await _count(s, Student), await _count(s, MasteryResponse)) == (1, 1)
        finally:
            await db.dispose()

    asyncio.run(go())
