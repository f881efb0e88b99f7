"""The per-session pseudonym vault: ``<PERSON_1>`` <-> "Maria", kept outside the graph state.

Values are encrypted at rest (Fernet; the key comes from ``READLOOM_VAULT_KEY``,
``READLOOM_VAULT_KEY_FILE`` or, by default, a 0600 file under ``settings.home``: see
``guardrails/keys.py``). Lookups use a keyed HMAC of the normalised value, so the same person gets the
same pseudonym in every turn of a session without storing anything searchable in clear.
The tables (``vault_*``) are in the one database, shared by every worker; allocation is
transactional, and a lost race for an index is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from readloom.guardrails.keys import load_key  # noqa: E402 - after Settings: keys imports it
from readloom.settings import Settings

KEY_FILE = "vault.key"
PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")


def normalise(value: str) -> str:
    """ "Maria", " maria " and "MARIA" are one value; so are "555-201-8834" and "555 201 8834"."""
    from readloom.guardrails.lexicon import fold

    text = fold(value).strip(" \t\n.,;:!?'\"")
    return re.sub(r"[\s\-().]+", " ", text).strip()


def load_or_create_key(home: Path) -> bytes:
    """The vault key under ``home`` (0600). Created on first use; never logged."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / KEY_FILE
    if not path.exists():
        tmp = home / f".{KEY_FILE}.{os.getpid()}.{threading.get_ident()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, Fernet.generate_key())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic; if another process won the race, keep its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    os.chmod(path, 0o600)
    return path.read_bytes().strip()


def pseudonymous_id(key: bytes, kind: str, value: str) -> str:
    """A stable, non-reversible id (e.g. for a student in the audit log)."""
    digest = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}_{digest[:16]}"


@dataclass(frozen=True)
class Pseudonym:
    label: str
    index: int

    @property
    def token(self) -> str:
        return f"<{self.label}_{self.index}>"


def _tables():  # imported late: storage imports guardrails nowhere, but keep it lazy
    from readloom.storage.models_stores import VaultAlias, VaultPseudonym, VaultSessionOwner

    return VaultPseudonym.__table__, VaultAlias.__table__, VaultSessionOwner.__table__


class Vault:
    """Maps values to pseudonyms per session and back. Thread-safe."""

    def __init__(self, settings: Settings, *, path: Path | None = None):
        from readloom.storage.stores import store_db

        settings.ensure_home()
        self._key = load_key(settings)
        self._fernet = Fernet(self._key)
        self._mac_key = hmac.new(self._key, b"readloom-vault-lookup", hashlib.sha256).digest()
        self._db = store_db(path if path is not None else settings)
        self.path = self._db.path
        self._p, self._a, self._o = _tables()

    # --- write side --------------------------------------------------------------------

    def pseudonym(self, session_id: str, label: str, value: str) -> Pseudonym:
        """The pseudonym of ``value`` in this session, allocating the next index if new."""
        norm = normalise(value)
        lookup = self._lookup(session_id, label, norm)
        with self._db.read() as conn:
            found = self._find(conn, session_id, label, lookup)
        if found:
            return found
        for _ in range(5):  # bounded: another worker may take the same index first
            try:
                with self._db.write() as conn:
                    found = self._find(conn, session_id, label, lookup)
                    if found is None:
                        found = self._allocate(conn, session_id, label, value, norm, lookup)
                return found
            except IntegrityError:
                continue
        raise RuntimeError("could not allocate a pseudonym")

    def _allocate(
        self, conn: Connection, session_id: str, label: str, value: str, norm: str, lookup: str
    ) -> Pseudonym:
        p = self._p
        idx = conn.execute(
            select(func.coalesce(func.max(p.c.idx), 0) + 1).where(
                p.c.session_id == session_id, p.c.label == label
            )
        ).scalar_one()
        token = self._fernet.encrypt(value.strip().encode())
        conn.execute(
            insert(p).values(
                session_id=session_id, label=label, idx=int(idx), lookup=lookup, value=token,
                created_at=time.time(),
            )
        )  # fmt: skip
        found = Pseudonym(label, int(idx))
        if label == "PERSON":
            self._add_aliases(conn, session_id, norm, found)
        return found

    def _add_aliases(self, conn: Connection, session_id: str, norm: str, p: Pseudonym) -> None:
        parts = norm.split()
        if len(parts) < 2:
            return
        a = self._a
        for part in dict.fromkeys((parts[0], parts[-1])):
            lookup = self._lookup(session_id, p.label, part)
            taken = conn.execute(
                select(a.c.lookup).where(a.c.session_id == session_id, a.c.lookup == lookup)
            ).first()
            if taken is None:
                conn.execute(
                    insert(a).values(
                        session_id=session_id, lookup=lookup, label=p.label, idx=p.index
                    )
                )

    def _find(self, conn: Connection, session_id: str, label: str, lookup: str) -> Pseudonym | None:
        p, a = self._p, self._a
        row = conn.execute(
            select(p.c.idx).where(p.c.session_id == session_id, p.c.lookup == lookup)
        ).first()
        if row:
            return Pseudonym(label, row[0])
        row = conn.execute(
            select(a.c.label, a.c.idx).where(a.c.session_id == session_id, a.c.lookup == lookup)
        ).first()
        return Pseudonym(row[0], row[1]) if row else None

    def _lookup(self, session_id: str, label: str, norm: str) -> str:
        msg = f"{session_id}\x00{label}\x00{norm}".encode()
        return hmac.new(self._mac_key, msg, hashlib.sha256).hexdigest()

    # --- read side ---------------------------------------------------------------------

    def reveal(self, session_id: str, label: str, index: int) -> str | None:
        p = self._p
        with self._db.read() as conn:
            row = conn.execute(
                select(p.c.value).where(
                    p.c.session_id == session_id, p.c.label == label, p.c.idx == index
                )
            ).first()
        return self._fernet.decrypt(row[0]).decode() if row else None

    def reidentify(self, text: str, session_id: str) -> str:
        """Put real values back for ``<LABEL_n>`` tokens this session knows; others stay."""
        cache: dict[tuple[str, int], str | None] = {}

        def swap(m: re.Match[str]) -> str:
            key = (m.group(1), int(m.group(2)))
            if key not in cache:
                cache[key] = self.reveal(session_id, *key)
            return cache[key] or m.group(0)

        return PLACEHOLDER.sub(swap, text)

    def count(self, session_id: str) -> int:
        p = self._p
        with self._db.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(p).where(p.c.session_id == session_id)
                ).scalar_one()
            )

    # --- ownership and deletion --------------------------------------------------------

    def link_session(self, session_id: str, student_id: str) -> None:
        """Record which student a session belongs to, so ``forget_student`` can find it."""
        owner = pseudonymous_id(self._mac_key, "stu", student_id)
        o = self._o
        for _ in range(3):
            try:
                with self._db.write() as conn:
                    conn.execute(delete(o).where(o.c.session_id == session_id))
                    conn.execute(insert(o).values(session_id=session_id, student=owner))
                return
            except IntegrityError:  # a concurrent link of the same session: retry
                continue

    def sessions_of(self, student_id: str) -> list[str]:
        owner = pseudonymous_id(self._mac_key, "stu", student_id)
        o = self._o
        with self._db.read() as conn:
            rows = conn.execute(
                select(o.c.session_id).where(o.c.student == owner).order_by(o.c.session_id)
            ).all()
        return [r[0] for r in rows]

    def forget_session(self, session_id: str, *, conn: Connection | None = None) -> int:
        """Delete every pseudonym of a session; returns how many values were removed.
        In the caller's transaction when ``conn`` is given."""
        if conn is None:
            with self._db.write() as own:
                return self.forget_session(session_id, conn=own)
        n = conn.execute(delete(self._p).where(self._p.c.session_id == session_id)).rowcount
        conn.execute(delete(self._a).where(self._a.c.session_id == session_id))
        conn.execute(delete(self._o).where(self._o.c.session_id == session_id))
        return int(n)

    def forget_student(self, student_id: str) -> int:
        """Delete the vault entries of every session recorded for this student."""
        return sum(self.forget_session(s) for s in self.sessions_of(student_id))

    def close(self) -> None:
        """The pool is shared by every store of the process (``storage.stores``)."""
