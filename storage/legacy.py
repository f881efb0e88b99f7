"""Upgrade in place: copy the store files an earlier release kept under ``READLOOM_HOME``
(one SQLite file per store) into the one database, then set them aside.

Runs after every migration to head (``storage.db.migrate``: at start-up, ``readloom db
upgrade``, a store's first use). Each file is copied in one transaction that also records
it in ``legacy_imports``, so a crash mid-copy imports nothing and a crash after the commit
never imports twice; the file is then renamed ``<name>.imported`` (keep it as a backup or
delete it). Processes of one machine take a file lock around the whole upgrade.
Vault values are copied as the Fernet tokens they are (still encrypted, same key).
The old erasure register is not copied: it held the session ids of erased students.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from readloom.settings import Settings

log = logging.getLogger(__name__)

IMPORTED_SUFFIX = ".imported"


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


@dataclass(frozen=True)
class Copy:
    """Rows of ``source`` table (``columns`` in order) into ``target``, mapped by ``row``."""

    source: str
    target: str
    columns: str
    row: Callable[[tuple[Any, ...]], dict[str, Any]]
    keep_ids: bool = False


def _named(*names: str) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    return lambda r: dict(zip(names, r, strict=True))


_USAGE = "ts, month, tenant, provider, model, prompt_id, input_tokens, output_tokens, cost_usd, cached, student_id"  # noqa: E501
_CACHE = "key, created, provider, model, text, parsed, input_tokens, output_tokens, finish_reason"
_EVENTS = "at, tenant, role, actor, session, kind, guard, rule, entities, severity"
_ALERTS = (
    "id, created_at, updated_at, tenant, session, actor, severity, kind, entities, confidence,"
    " status, repeats, acknowledged_by, acknowledged_at"
)


def _cols(spec: str) -> list[str]:
    return [c.strip() for c in spec.split(",")]


FILES: dict[str, list[Copy]] = {
    "llm_usage.sqlite": [Copy("llm_usage", "llm_usage", _USAGE, _named(*_cols(_USAGE)))],
    "llm_cache.sqlite": [Copy("llm_cache", "llm_cache", _CACHE, _named(*_cols(_CACHE)))],
    "audit.sqlite": [
        Copy("audit_events", "audit_events", _EVENTS, _named(*_cols(_EVENTS))),
        Copy("alerts", "alerts", _ALERTS, _named(*_cols(_ALERTS)), keep_ids=True),
    ],
    "vault.sqlite": [
        Copy(
            "pseudonyms", "vault_pseudonyms", "session_id, label, idx, lookup, value, created_at",
            lambda r: {"session_id": r[0], "label": r[1], "idx": r[2], "lookup": r[3],
                       "value": bytes(r[4]), "created_at": _epoch(r[5])},
        ),
        Copy("aliases", "vault_aliases", "session_id, lookup, label, idx",
             _named("session_id", "lookup", "label", "idx")),
        Copy("session_owners", "vault_session_owners", "session_id, student",
             _named("session_id", "student")),
    ],
    "mastery.sqlite": [
        Copy("mastery", "mastery_estimates", "student_id, skill, p, attempts, updated_at",
             _named("student_id", "skill", "p", "attempts", "updated_at")),
        Copy("responses", "mastery_responses", "student_id, skill, correct, p_before, p_after, at",
             _named("student_id", "skill", "correct", "p_before", "p_after", "at")),
    ],
    "lti/launches.sqlite": [
        Copy("lti_states", "lti_states", "state, nonce, issuer, client_id, created_at, used_at",
             _named("state", "nonce", "issuer", "client_id", "created_at", "used_at")),
        Copy("lti_nonces", "lti_nonces", "issuer, nonce, used_at",
             _named("issuer", "nonce", "used_at")),
        Copy("page_keys", "lti_page_keys",
             "key_id, tenant, role, source, expires_at, revoked_at, launch",
             _named("key_id", "tenant", "role", "source", "expires_at", "revoked_at", "launch")),
    ],
}  # fmt: skip
CHECKPOINTS = "checkpoints.sqlite"


def legacy_files(home: Path) -> list[Path]:
    """The earlier release's store files still waiting under ``home``."""
    names = [*FILES, CHECKPOINTS]
    return [home / n for n in names if (home / n).is_file()]


@contextmanager
def _home_lock(home: Path) -> Iterator[None]:
    with (home / ".upgrade.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _copy_file(conn: Connection, path: Path, copies: list[Copy]) -> int:
    from readloom.storage.models import Base

    src = sqlite3.connect(path)  # read-write: replays a leftover WAL first
    try:
        present = _tables(src)
        n = 0
        for c in copies:
            if c.source not in present:
                continue
            table = Base.metadata.tables[c.target]
            rows = [
                c.row(r) for r in src.execute(f"SELECT {c.columns} FROM {c.source} ORDER BY rowid")
            ]
            if not c.keep_ids:
                rows = [{k: v for k, v in r.items() if k != "id"} for r in rows]
            for start in range(0, len(rows), 500):
                conn.execute(insert(table), rows[start : start + 500])
            n += len(rows)
            if c.keep_ids and rows and conn.dialect.name == "postgresql":
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{c.target}', 'id'),"
                        f" (SELECT max(id) FROM {c.target}))"
                    )
                )
        return n
    finally:
        src.close()


def _set_aside(path: Path) -> None:
    for extra in ("-wal", "-shm"):
        side = path.with_name(path.name + extra)
        if side.exists():
            side.unlink()
    path.rename(path.with_name(path.name + IMPORTED_SUFFIX))


async def _copy_checkpoints(settings: Settings, path: Path) -> int:
    """Every checkpoint and pending write of every thread, oldest first, through the
    savers themselves (the Postgres saver's schema differs from the SQLite one)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from readloom.graph import checkpoint_serializer
    from readloom.storage.checkpoints import open_checkpointer

    n = 0
    async with (
        AsyncSqliteSaver.from_conn_string(str(path)) as source,
        open_checkpointer(settings, pool_size=2) as target,
    ):
        source.serde = target.serde = checkpoint_serializer()
        tuples = [t async for t in source.alist(None)]
        for t in sorted(tuples, key=lambda t: t.checkpoint["id"]):
            parent = t.parent_config or {
                "configurable": {
                    "thread_id": t.config["configurable"]["thread_id"],
                    "checkpoint_ns": t.config["configurable"].get("checkpoint_ns", ""),
                }
            }
            saved = await target.aput(
                parent, t.checkpoint, t.metadata, dict(t.checkpoint["channel_versions"])
            )
            by_task: dict[str, list[tuple[str, Any]]] = {}
            for task_id, channel, value in t.pending_writes or []:
                by_task.setdefault(task_id, []).append((channel, value))
            for task_id, writes in by_task.items():
                await target.aput_writes(saved, writes, task_id)
            n += 1
    return n


def _run(fn: Callable[..., Any], *args: Any) -> Any:
    """``asyncio.run`` of ``fn(*args)``, in a thread of its own if this one runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fn(*args))
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn(*args))).result()


def _recorded(conn: Connection, name: str) -> bool:
    from readloom.storage.models_stores import LegacyImport

    t = LegacyImport.__table__
    return conn.execute(select(t.c.name).where(t.c.name == name)).first() is not None


def _record(conn: Connection, name: str, rows: int) -> None:
    from readloom.storage.models_stores import LegacyImport

    conn.execute(
        insert(LegacyImport.__table__).values(name=name, rows=rows, imported_at=time.time())
    )


def import_legacy(settings: Settings) -> dict[str, int]:
    """Copy every waiting store file into the database; returns rows copied per file."""
    home = settings.home
    if not legacy_files(home):
        return {}
    from readloom.storage.db import sync_engine

    done: dict[str, int] = {}
    engine = sync_engine(settings)
    try:
        with _home_lock(home):
            for name, copies in FILES.items():
                path = home / name
                if not path.is_file():
                    continue
                with engine.begin() as conn:
                    if not _recorded(conn, name):
                        done[name] = _copy_file(conn, path, copies)
                        _record(conn, name, done[name])
                _set_aside(path)
            path = home / CHECKPOINTS
            if path.is_file():
                with engine.begin() as conn:
                    fresh = not _recorded(conn, CHECKPOINTS)
                if fresh:
                    done[CHECKPOINTS] = _run(_copy_checkpoints, settings, path)
                    with engine.begin() as conn:
                        _record(conn, CHECKPOINTS, done[CHECKPOINTS])
                _set_aside(path)
    finally:
        engine.dispose()
    for name, rows in done.items():
        log.warning("legacy_store_imported file=%s rows=%d", name, rows)
    return done
