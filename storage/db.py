"""Engines, sessions and migrations for the application database.

SQLite (default, under ``READLOOM_HOME``) runs in WAL mode with ``synchronous=FULL`` so a
committed (acknowledged) message survives ``kill -9``; writers take the lock up front
(``BEGIN IMMEDIATE``) through a one-connection pool, so concurrent requests queue in
the event loop instead of failing with "database is locked". Postgres is used when
``READLOOM_DATABASE_URL`` names one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from readloom.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(settings: Settings) -> URL:
    """The configured URL with an explicit driver (psycopg 3 for Postgres, pysqlite)."""
    url = make_url(settings.sqlalchemy_url)
    if url.drivername in ("postgres", "postgresql"):  # the usual libpq spellings
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "postgresql" and url.drivername != "postgresql+psycopg":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite")
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return url


def is_sqlite(settings: Settings) -> bool:
    return database_url(settings).get_backend_name() == "sqlite"


def libpq_conninfo(settings: Settings) -> str:
    """The Postgres URL as libpq understands it (for psycopg and the checkpointer)."""
    url = database_url(settings).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def _install_sqlite_hooks(engine: Engine, *, immediate: bool) -> None:
    event.listen(engine, "connect", _sqlite_pragmas)

    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    event.listen(engine, "begin", _begin)


def sync_engine(settings: Settings) -> Engine:
    """A synchronous engine (migrations, CLI)."""
    url = database_url(settings)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
        _install_sqlite_hooks(engine, immediate=True)
        return engine
    return create_engine(url, pool_pre_ping=True)


class GroupCommit:
    """Group commit for SQLite: with ``synchronous=FULL`` every COMMIT costs an fsync
    (milliseconds), and SQLite has one writer, so one commit per request caps throughput
    at a few hundred writes a second. Writers here run one at a time, each inside its own
    SAVEPOINT of a shared transaction; whoever finishes with nobody queued behind commits
    the lot with one fsync, and every writer in the batch returns only after that commit.
    A writer that fails rolls back its savepoint alone."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], *, max_batch: int = 128):
        self._maker = maker
        self._max_batch = max_batch
        self._lock = asyncio.Lock()
        self._queued = 0
        self._session: AsyncSession | None = None
        self._done: asyncio.Future[None] | None = None
        self._size = 0
        self._orphans: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        self._queued += 1
        try:
            await self._lock.acquire()
        except BaseException:  # cancelled while queued
            self._queued -= 1
            self._adopt_orphan()
            raise
        self._queued -= 1
        try:
            if self._session is None:
                self._session = self._maker()
                await self._session.begin()
                self._done = asyncio.get_running_loop().create_future()
                self._size = 0
            session, done = self._session, self._done
            assert done is not None
            try:
                async with session.begin_nested():
                    yield session
                    await session.flush()
            finally:
                self._size += 1
                if self._queued == 0 or self._size >= self._max_batch:
                    await self._commit()
        finally:
            self._lock.release()
        await asyncio.shield(done)

    def _adopt_orphan(self) -> None:
        """A writer that finished while this one was queued left the batch open for it to
        commit: if nobody else is queued or writing, commit it now, or that writer (and
        everyone in its batch) would wait for the next write, or forever."""
        if self._queued == 0 and self._session is not None and not self._lock.locked():
            task = asyncio.get_running_loop().create_task(self._commit_orphan())
            self._orphans.add(task)
            task.add_done_callback(self._orphans.discard)

    async def _commit_orphan(self) -> None:
        async with self._lock:
            if self._session is not None:
                with contextlib.suppress(Exception):  # each writer re-raises it itself
                    await self._commit()

    async def _commit(self) -> None:
        session, done = self._session, self._done
        self._session, self._done = None, None
        assert session is not None and done is not None
        try:
            await session.commit()
        except BaseException as exc:
            done.set_exception(exc)
            done.exception()  # mark retrieved: every writer re-raises it on its own
            raise
        else:
            done.set_result(None)
        finally:
            await session.close()


class Database:
    """Async session factories: ``reader()`` for queries, ``writer()`` for transactions."""

    def __init__(self, settings: Settings) -> None:
        url = database_url(settings)
        self.backend = url.get_backend_name()
        if self.backend == "sqlite":
            aurl = url.set(drivername="sqlite+aiosqlite")
            self.read_engine = create_async_engine(aurl, pool_size=8, max_overflow=8)
            # One writer connection: SQLite has one write lock anyway; waiting for the
            # pool is fair and async, waiting on the file lock would block a thread.
            self.write_engine = create_async_engine(
                aurl, pool_size=1, max_overflow=0, pool_timeout=60
            )
            _install_sqlite_hooks(self.read_engine.sync_engine, immediate=False)
            _install_sqlite_hooks(self.write_engine.sync_engine, immediate=True)
        else:
            self.read_engine = create_async_engine(
                url, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
            self.write_engine = self.read_engine
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._group = GroupCommit(self._write) if self.backend == "sqlite" else None

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session:
            yield session

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction that sees one consistent state of the whole database
        (Postgres: REPEATABLE READ; SQLite in WAL mode: one read transaction is one
        snapshot from its first read to its end), e.g. for a FERPA export."""
        async with self._read() as session:
            if self.backend == "postgresql":
                await session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            yield session

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncSession]:
        """A transaction, durably committed when the block exits (so before the caller
        acknowledges anything). On SQLite concurrent writers share one commit (and one
        fsync): see ``GroupCommit``."""
        if self._group is not None:
            async with self._group.transaction() as session:
                yield session
            return
        async with self._write() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()


def alembic_config(settings: Settings) -> Any:
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["settings"] = settings
    return cfg


def migrate(settings: Settings, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent; run at every start); at head,
    also copy in the store files an earlier release left under the home (``legacy``)."""
    from alembic import command

    from readloom.storage.legacy import import_legacy

    settings.ensure_home()
    if revision != "head" or not at_head(settings):
        command.upgrade(alembic_config(settings), revision)
    if revision == "head":
        import_legacy(settings)


_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=]*=(.*)$", re.MULTILINE)


def script_heads() -> set[str]:
    """The head revisions of the migration scripts, read from their ``revision`` and
    ``down_revision`` lines (alembic's own script loader costs ~0.4 s at every start)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            names = set(re.findall(r"[\"']([^\"']+)[\"']", value))
            (revisions if key == "revision" else parents).update(names)
    return revisions - parents


def at_head(settings: Settings) -> bool:
    """The database already records exactly the scripts' heads (anything else, an error
    included, means: run the upgrade)."""
    heads = script_heads()
    engine = create_engine(database_url(settings))  # a plain read: no BEGIN IMMEDIATE
    try:
        with engine.connect() as conn:
            have = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # noqa: BLE001 - no table yet, or unreadable: upgrade decides
        return False
    finally:
        engine.dispose()
    return bool(heads) and have == heads


def downgrade(settings: Settings, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(settings), revision)
