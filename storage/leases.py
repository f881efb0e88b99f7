"""Leases: "this process is working on X", held by the operating system or the database
for exactly as long as the process lives, so a worker killed with ``kill -9`` frees its
work at once and no timer, heartbeat or takeover guess is needed.

- Postgres: session-level advisory locks (``pg_try_advisory_lock``) on one connection
  per process. The server drops them the moment that connection dies.
- SQLite: POSIX record locks (``fcntl.lockf``) on one byte per key of a lock file beside
  the database. The kernel drops them when the process exits, however it exits.

Both are try-locks: a key already leased (here or by another process) is refused, never
waited for. Keys hash to 62 bits; a collision can only make a free key look busy (work
waits for the next poll), never let two holders in.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol

from readloom.settings import Settings
from readloom.storage.db import database_url, libpq_conninfo


def lease_number(key: str) -> int:
    """A stable non-negative 62-bit number for ``key`` (advisory-lock id, byte offset)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest()) >> 2


class Leases(Protocol):
    async def try_acquire(self, key: str) -> bool: ...
    async def release(self, key: str) -> None: ...
    async def holds(self, key: str) -> bool:
        """True if this process still holds ``key`` (checked with the lock's owner)."""
        ...

    async def close(self) -> None: ...


class _LockFile:
    """One open lock file per path per process, shared by every ``FileLeases`` on it:
    POSIX locks belong to the process, and closing *any* descriptor of the file drops
    all of them, so the file is opened once and closed with its last user."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.held: set[str] = set()
        self.users = 0
        self.guard = threading.Lock()  # apps on several threads (tests) share the file


_lock_files: dict[Path, _LockFile] = {}
_lock_files_guard = threading.Lock()


class FileLeases:
    """Record locks on one byte per key of ``path``; in-process holders are tracked in
    the shared ``_LockFile`` (the kernel only tells processes apart)."""

    def __init__(self, path: Path) -> None:
        self._path = path.resolve()
        with _lock_files_guard:
            f = _lock_files.get(self._path)
            if f is None:
                f = _lock_files[self._path] = _LockFile(self._path)
            f.users += 1
        self._file: _LockFile | None = f
        self._mine: set[str] = set()

    async def try_acquire(self, key: str) -> bool:
        f = self._file
        if f is None:
            return False
        with f.guard:
            if key in f.held:
                return False
            try:
                fcntl.lockf(f.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, lease_number(key))
            except OSError:  # EAGAIN/EACCES: another process holds it
                return False
            f.held.add(key)
        self._mine.add(key)
        return True

    async def release(self, key: str) -> None:
        f = self._file
        if f is not None and key in self._mine:
            self._mine.discard(key)
            with f.guard:
                f.held.discard(key)
                fcntl.lockf(f.fd, fcntl.LOCK_UN, 1, lease_number(key))

    async def holds(self, key: str) -> bool:
        return key in self._mine  # the kernel cannot take a live process's lock away

    async def close(self) -> None:
        for key in list(self._mine):
            await self.release(key)
        f, self._file = self._file, None
        if f is None:
            return
        with _lock_files_guard:
            f.users -= 1
            if f.users == 0:
                _lock_files.pop(self._path, None)
                os.close(f.fd)


class PostgresLeases:
    """Advisory locks on one autocommit connection, opened on first use. If that
    connection is lost, so are its locks: ``holds`` then says False, and callers check it
    before they record an outcome."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn = None  # psycopg.AsyncConnection
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._held: set[str] = set()
        self._asking: set[str] = set()  # keys with an acquire under way

    async def _execute(self, sql: str, key: str) -> bool:
        import psycopg

        async with self._lock:
            if self._conn is None or self._conn.closed:
                if self._held:  # the old connection took its locks with it
                    self._held.clear()
                self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            cur = await self._conn.execute(sql, (lease_number(key),))
            row = await cur.fetchone()
            return bool(row and row[0])

    async def try_acquire(self, key: str) -> bool:
        # Advisory locks are re-entrant within one session, and every lease of this process
        # shares one session: two requests racing for one key would both get it. So a key is
        # marked taken *before* the await, and a second asker is refused.
        if key in self._held or key in self._asking:
            return False
        self._asking.add(key)
        try:
            if await self._execute("SELECT pg_try_advisory_lock(%s)", key):
                self._held.add(key)
                return True
            return False
        finally:
            self._asking.discard(key)

    async def release(self, key: str) -> None:
        if key not in self._held:
            return
        self._held.discard(key)
        # a lost connection has released it already
        with contextlib.suppress(Exception):
            await self._execute("SELECT pg_advisory_unlock(%s)", key)

    async def holds(self, key: str) -> bool:
        if key not in self._held:
            return False
        sql = (
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
            " AND pid = pg_backend_pid() AND granted AND objsubid = 1"
            " AND ((classid::bigint << 32) | objid::bigint) = %s)"
        )
        try:
            return await self._execute(sql, key)
        except Exception:  # noqa: BLE001 - connection gone: the lock is gone with it
            self._held.discard(key)
            return False

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
            self._held.clear()


def open_leases(settings: Settings) -> Leases:
    url = database_url(settings)
    if url.get_backend_name() == "sqlite":
        db = url.database
        if not db or db == ":memory:":
            return FileLeases(settings.home / "leases.lock")
        return FileLeases(Path(db + ".leases"))
    return PostgresLeases(libpq_conninfo(settings))
