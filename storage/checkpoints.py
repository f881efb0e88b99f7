"""The LangGraph checkpointer on readloom's one database: its SQLite saver on the SQLite
database (WAL; its own connection, so it waits for the write lock in a thread, never on
the event loop), its Postgres saver on Postgres, through a connection pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver

from readloom.settings import Settings
from readloom.storage.db import database_url, is_sqlite, libpq_conninfo


@asynccontextmanager
async def open_checkpointer(
    settings: Settings, *, pool_size: int = 10
) -> AsyncIterator[BaseCheckpointSaver]:
    """``async with open_checkpointer(settings) as saver:`` — set up and ready to use."""
    if is_sqlite(settings):
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        settings.ensure_home()
        path = database_url(settings).database or ":memory:"
        async with aiosqlite.connect(path) as conn:
            await conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL, not FULL: WAL + NORMAL survives kill -9 (only an OS crash can drop
            # the last commits), and a graph run commits at every step; acknowledged
            # messages themselves are in the app database, which is FULL.
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA busy_timeout=30000")
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            yield saver
        return

    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    async with AsyncConnectionPool(
        libpq_conninfo(settings),
        min_size=1,
        max_size=pool_size,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    ) as pool:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        yield saver


async def delete_threads(saver: BaseCheckpointSaver, thread_ids: list[str]) -> None:
    """Forget every checkpoint of these threads (FERPA deletion of a student's sessions)."""
    for thread_id in thread_ids:
        await saver.adelete_thread(thread_id)
