"""The application database: migrations, durability settings, constraints, concurrency."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from readloom.settings import Settings
from readloom.storage.db import (
    Database,
    at_head,
    database_url,
    downgrade,
    migrate,
    script_heads,
    sync_engine,
)
from readloom.storage.models import (
    Base,
    IdempotencyRecord,
    Message,
    Tenant,
    TutoringSession,
    XapiStatement,
)

EXPECTED_TABLES = set(Base.metadata.tables)


def _tables(settings: Settings) -> set[str]:
    engine = sync_engine(settings)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_creates_every_table_and_is_idempotent(settings: Settings) -> None:
    migrate(settings)
    migrate(settings)  # a second start changes nothing
    tables = _tables(settings)
    assert tables >= EXPECTED_TABLES
    assert "alembic_version" in tables


def test_downgrade_to_base_and_back(settings: Settings) -> None:
    migrate(settings)
    downgrade(settings, "base")
    assert not (EXPECTED_TABLES & _tables(settings))
    migrate(settings)
    assert _tables(settings) >= EXPECTED_TABLES


def test_a_start_at_head_skips_the_upgrade_and_any_other_state_runs_it(settings: Settings) -> None:
    from alembic.script import ScriptDirectory

    from readloom.storage.db import alembic_config

    assert script_heads() == set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())
    assert not at_head(settings)  # no database yet
    migrate(settings)
    assert at_head(settings)
    downgrade(settings, "0002")
    assert not at_head(settings)
    migrate(settings)  # behind head: upgraded
    assert at_head(settings) and _tables(settings) >= EXPECTED_TABLES


def test_postgres_url_gets_psycopg3_driver() -> None:
    s = Settings(database_url="postgresql://u:p@127.0.0.1:5432/db")
    assert database_url(s).drivername == "postgresql+psycopg"
    assert Settings().sqlalchemy_url.startswith("sqlite:///")


async def _pragmas(db: Database) -> tuple[str, int, int]:
    async with db.writer() as s:
        mode = (await s.execute(text("PRAGMA journal_mode"))).scalar_one()
        sync = (await s.execute(text("PRAGMA synchronous"))).scalar_one()
        fks = (await s.execute(text("PRAGMA foreign_keys"))).scalar_one()
    return mode, sync, fks


def test_sqlite_is_wal_with_full_sync(tmp_path) -> None:
    settings = Settings(home=tmp_path)
    migrate(settings)

    async def run() -> tuple[str, int, int]:
        db = Database(settings)
        try:
            return await _pragmas(db)
        finally:
            await db.dispose()

    mode, sync, fks = asyncio.run(run())
    assert mode == "wal"
    assert sync == 2  # FULL: a committed transaction is on disk before COMMIT returns
    assert fks == 1


async def _seed(db: Database, tenant: str = "t1", session_id: str = "s-1") -> None:
    async with db.writer() as s:
        s.add(Tenant(id=tenant, home_page="https://lms.example/t1"))
        await s.flush()
        s.add(TutoringSession(id=session_id, tenant_id=tenant, student_id="stu-1", grade=4))


def test_roundtrip_timezone_json_and_constraints(settings: Settings) -> None:
    migrate(settings)

    async def run() -> None:
        db = Database(settings)
        try:
            await _seed(db)
            async with db.writer() as s:
                s.add(
                    Message(
                        session_id="s-1", seq=1, role="student", text="hi <PERSON_1>",
                        reply="hello", meta={"move": "probe"}, idempotency_key="k1",
                    )
                )  # fmt: skip
            async with db.reader() as s:
                m = (await s.execute(select(Message))).scalar_one()
                assert m.meta == {"move": "probe"}
                assert m.created_at.tzinfo is not None
                assert abs((datetime.now(UTC) - m.created_at).total_seconds()) < 60
            # the same seq twice in a session is refused
            with pytest.raises(IntegrityError):
                async with db.writer() as s:
                    s.add(Message(session_id="s-1", seq=1, role="student", text="x", reply="y"))
            # the same idempotency key twice in a session is refused
            with pytest.raises(IntegrityError):
                async with db.writer() as s:
                    s.add(
                        Message(
                            session_id="s-1", seq=2, role="student", text="x", reply="y",
                            idempotency_key="k1",
                        )
                    )  # fmt: skip
            # one idempotency key per API key
            with pytest.raises(IntegrityError):
                async with db.writer() as s:
                    for _ in range(2):
                        s.add(
                            IdempotencyRecord(
                                tenant_id="t1", api_key_id="key_1", key="same", method="POST",
                                path="/v1/x", request_hash="h", owner="o",
                            )
                        )  # fmt: skip
        finally:
            await db.dispose()

    asyncio.run(run())


def test_deleting_a_session_cascades_to_its_messages(settings: Settings) -> None:
    migrate(settings)

    async def run() -> int:
        db = Database(settings)
        try:
            await _seed(db)
            async with db.writer() as s:
                for i in range(3):
                    s.add(Message(session_id="s-1", seq=i + 1, role="student", text="a", reply="b"))
            async with db.writer() as s:
                await s.execute(delete(TutoringSession).where(TutoringSession.id == "s-1"))
            async with db.reader() as s:
                return (await s.execute(select(func.count()).select_from(Message))).scalar_one()
        finally:
            await db.dispose()

    assert asyncio.run(run()) == 0


def test_many_concurrent_writers_all_commit(settings: Settings) -> None:
    """100 concurrent write transactions: none fails with 'database is locked'."""
    migrate(settings)

    async def run() -> int:
        db = Database(settings)
        try:
            await _seed(db)

            async def write(i: int) -> None:
                async with db.writer() as s:
                    n = (
                        await s.execute(select(func.count()).select_from(XapiStatement))
                    ).scalar_one()
                    s.add(
                        XapiStatement(
                            id=f"00000000-0000-4000-8000-{i:012d}", tenant_id="t1",
                            student_id="stu-1", verb="v", statement={"n": n},
                        )
                    )  # fmt: skip

            await asyncio.gather(*(write(i) for i in range(100)))
            async with db.reader() as s:
                return (
                    await s.execute(select(func.count()).select_from(XapiStatement))
                ).scalar_one()
        finally:
            await db.dispose()

    assert asyncio.run(run()) == 100


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from readloom.settings import Settings
    from readloom.storage.db import Database
    from readloom.storage.models import Message

    async def main():
        db = Database(Settings(home=sys.argv[1], database_url=sys.argv[2] or None))
        for i in range(1, 100000):
            async with db.writer() as s:
                s.add(Message(session_id="s-1", seq=i, role="student", text="t", reply="r"))
            print(i, flush=True)  # acknowledged only after COMMIT returned

    asyncio.run(main())
    """
)


def test_acknowledged_writes_survive_kill_9(settings: Settings) -> None:
    migrate(settings)

    async def seed() -> None:
        db = Database(settings)
        try:
            await _seed(db)
        finally:
            await db.dispose()

    asyncio.run(seed())
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(settings.home), settings.database_url or ""],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    acked = 0
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while acked < 200 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert acked >= 200, "the writer did not get going"

    async def count() -> set[int]:
        db = Database(settings)
        try:
            async with db.reader() as s:
                return set((await s.execute(select(Message.seq))).scalars())
        finally:
            await db.dispose()

    seqs = asyncio.run(count())
    assert set(range(1, acked + 1)) <= seqs


def test_sqlite_group_commit_batches_writers_and_isolates_failures(tmp_path) -> None:
    """Concurrent writers share commits (fewer fsyncs than writers); one writer's failure
    rolls back only its own changes; everyone returns after a durable commit."""
    from sqlalchemy import event

    settings = Settings(home=tmp_path)
    migrate(settings)

    async def run() -> tuple[int, set[int], int]:
        db = Database(settings)
        commits = 0

        def on_commit(_conn: object) -> None:
            nonlocal commits
            commits += 1

        event.listen(db.write_engine.sync_engine, "commit", on_commit)
        try:
            await _seed(db)
            commits = 0

            async def write(i: int) -> None:
                async with db.writer() as s:
                    s.add(Message(session_id="s-1", seq=i, role="student", text="t", reply="r"))
                    if i % 10 == 0:
                        s.add(
                            Message(session_id="s-1", seq=i, role="student", text="dup", reply="r")
                        )

            outcomes = await asyncio.gather(
                *(write(i) for i in range(1, 101)), return_exceptions=True
            )
            failed = sum(1 for o in outcomes if isinstance(o, IntegrityError))
            async with db.reader() as s:
                seqs = set((await s.execute(select(Message.seq))).scalars())
            return commits, seqs, failed
        finally:
            await db.dispose()

    commits, seqs, failed = asyncio.run(run())
    assert failed == 10
    assert seqs == {i for i in range(1, 101) if i % 10}
    assert 1 <= commits < 90  # writers were batched


def test_sqlite_group_commit_survives_a_queued_writer_cancelled(tmp_path) -> None:
    """A writer that finishes while another is queued leaves the commit to it; when the
    queued one is cancelled (a client gone, a server stopping), the batch still commits
    and the first writer returns (it once waited for the next write, or forever)."""
    settings = Settings(home=tmp_path)
    migrate(settings)

    async def run() -> set[int]:
        db = Database(settings)
        try:
            await _seed(db)
            inside, release = asyncio.Event(), asyncio.Event()

            async def first() -> None:
                async with db.writer() as s:
                    s.add(Message(session_id="s-1", seq=1, role="student", text="t", reply="r"))
                    inside.set()
                    await release.wait()

            async def queued() -> None:
                async with db.writer() as s:
                    s.add(Message(session_id="s-1", seq=2, role="student", text="t", reply="r"))

            a = asyncio.create_task(first())
            await inside.wait()
            b = asyncio.create_task(queued())
            await asyncio.sleep(0.05)  # b waits for the writer lock
            lock = db._group._lock  # b is cancelled the moment a hands the lock over
            hand_over = lock.release

            def release_then_cancel() -> None:
                hand_over()
                b.cancel()
                lock.release = hand_over  # type: ignore[method-assign]

            lock.release = release_then_cancel  # type: ignore[method-assign]
            release.set()
            await asyncio.wait_for(a, timeout=10)
            assert b.cancelled()
            async with db.reader() as s:
                return set((await s.execute(select(Message.seq))).scalars())
        finally:
            await db.dispose()

    assert asyncio.run(run()) == {1}
