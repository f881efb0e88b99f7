"""Synchronous access to the one database, for the stores whose callers are synchronous
(guardrails run in worker threads, the gate records usage, the CLI reads mastery).

Every store of a process that names the same database shares one ``StoreDB`` (one pool),
and the first one brings the schema up to date (Alembic; Postgres migrations take an
advisory lock). On SQLite, writers take the write lock up front (``BEGIN IMMEDIATE``)
and readers never block (WAL). A store must not write on the event loop's thread on
SQLite: the async writer may hold the lock across an ``await`` (callers use a thread).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

from readloom.settings import Settings
from readloom.storage.db import SQLITE_BUSY_TIMEOUT_MS, database_url

_registry: dict[str, StoreDB] = {}
_registry_lock = threading.Lock()


def _pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # BEGIN is ours (see _begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA secure_delete=ON")  # erased vault values leave no residue
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_engine(url: Any, *, immediate: bool) -> Engine:
    engine = create_engine(url, pool_size=4, max_overflow=4)
    event.listen(engine, "connect", _pragmas)

    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    event.listen(engine, "begin", _begin)
    return engine


class StoreDB:
    """``with db.write() as conn:`` one transaction; ``with db.read() as conn:`` a snapshot."""

    def __init__(self, settings: Settings) -> None:
        url = database_url(settings)
        self.backend = url.get_backend_name()
        self.path: Path | None = None
        if self.backend == "sqlite":
            self.path = Path(url.database) if url.database else None
            self._write = _sqlite_engine(url, immediate=True)
            self._read = _sqlite_engine(url, immediate=False)
        else:
            self._write = self._read = create_engine(
                url, pool_size=5, max_overflow=10, pool_pre_ping=True
            )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._write.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._read.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self._write.dispose()
        if self._read is not self._write:
            self._read.dispose()


def store_db(settings: Settings | Path) -> StoreDB:
    """The process's ``StoreDB`` for this database, migrated to head on first use.
    A ``Path`` names a standalone SQLite database (benchmarks, tools)."""
    if isinstance(settings, Path):
        settings = Settings(home=settings.parent, database_url=f"sqlite:///{settings}")
    key = database_url(settings).render_as_string(hide_password=False)
    with _registry_lock:
        db = _registry.get(key)
        if db is None:
            from readloom.storage.db import migrate

            migrate(settings)
            db = StoreDB(settings)
            _registry[key] = db
        return db


def forget_store_dbs() -> None:
    """Close every shared pool (tests that delete their database, process shutdown)."""
    with _registry_lock:
        for db in _registry.values():
            db.dispose()
        _registry.clear()
