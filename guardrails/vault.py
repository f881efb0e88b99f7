"""The per-session pseudonym vault: ``<PERSON_1>`` <-> "Maria", kept outside the graph state.

Values are encrypted at rest (Fernet; the key comes from ``READLOOM_VAULT_KEY``,
``READLOOM_VAULT_KEY_FILE`` or, by default, a 0600 file under ``settings.home``: see
``guardrails/keys.py``). Lookups use a keyed HMAC of the normalised value, so the same person gets the
same pseudonym in every turn of a session without storing anything searchable in clear.
One SQLite file, safe to share between threads (and processes: allocation is transactional).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from readloom.guardrails.keys import load_key  # noqa: E402 - after Settings: keys imports it
from readloom.settings import Settings

KEY_FILE = "vault.key"
VAULT_FILE = "vault.sqlite"
PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pseudonyms (
    session_id  TEXT NOT NULL,
    label       TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    lookup      TEXT NOT NULL,       -- HMAC(session, label, normalised value)
    value       BLOB NOT NULL,       -- Fernet token of the value as first seen
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    PRIMARY KEY (session_id, label, idx)
);
CREATE UNIQUE INDEX IF NOT EXISTS pseudonyms_lookup ON pseudonyms (session_id, lookup);
CREATE TABLE IF NOT EXISTS aliases (      -- a first or last name alone finds the full name
    session_id TEXT NOT NULL,
    lookup     TEXT NOT NULL,
    label      TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    PRIMARY KEY (session_id, lookup)
);
CREATE TABLE IF NOT EXISTS session_owners (  -- who a session belongs to, for forget_student()
    session_id TEXT PRIMARY KEY,
    student    TEXT NOT NULL               -- HMAC of the student id, never the id itself
);
CREATE INDEX IF NOT EXISTS session_owners_student ON session_owners (student);
"""


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


class Vault:
    """Maps values to pseudonyms per session and back. Thread-safe."""

    def __init__(self, settings: Settings, *, path: Path | None = None):
        home = settings.ensure_home()
        self._key = load_key(settings)
        self._fernet = Fernet(self._key)
        self._mac_key = hmac.new(self._key, b"readloom-vault-lookup", hashlib.sha256).digest()
        self.path = path or home / VAULT_FILE
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA secure_delete=ON")  # forgotten values leave no residue
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        os.chmod(self.path, 0o600)

    # --- write side --------------------------------------------------------------------

    def pseudonym(self, session_id: str, label: str, value: str) -> Pseudonym:
        """The pseudonym of ``value`` in this session, allocating the next index if new."""
        norm = normalise(value)
        lookup = self._lookup(session_id, label, norm)
        with self._lock:
            found = self._find(session_id, label, lookup)
            if found:
                return found
            self._db.execute("BEGIN IMMEDIATE")
            try:
                found = self._find(session_id, label, lookup)
                if found is None:
                    (idx,) = self._db.execute(
                        "SELECT COALESCE(MAX(idx), 0) + 1 FROM pseudonyms"
                        " WHERE session_id = ? AND label = ?",
                        (session_id, label),
                    ).fetchone()
                    token = self._fernet.encrypt(value.strip().encode())
                    self._db.execute(
                        "INSERT INTO pseudonyms (session_id, label, idx, lookup, value)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (session_id, label, idx, lookup, token),
                    )
                    found = Pseudonym(label, idx)
                    if label == "PERSON":
                        self._add_aliases(session_id, norm, found)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return found

    def _add_aliases(self, session_id: str, norm: str, p: Pseudonym) -> None:
        parts = norm.split()
        if len(parts) < 2:
            return
        for part in (parts[0], parts[-1]):
            self._db.execute(
                "INSERT OR IGNORE INTO aliases (session_id, lookup, label, idx) VALUES (?,?,?,?)",
                (session_id, self._lookup(session_id, p.label, part), p.label, p.index),
            )

    def _find(self, session_id: str, label: str, lookup: str) -> Pseudonym | None:
        row = self._db.execute(
            "SELECT idx FROM pseudonyms WHERE session_id = ? AND lookup = ?", (session_id, lookup)
        ).fetchone()
        if row:
            return Pseudonym(label, row[0])
        row = self._db.execute(
            "SELECT label, idx FROM aliases WHERE session_id = ? AND lookup = ?",
            (session_id, lookup),
        ).fetchone()
        return Pseudonym(row[0], row[1]) if row else None

    def _lookup(self, session_id: str, label: str, norm: str) -> str:
        msg = f"{session_id}\x00{label}\x00{norm}".encode()
        return hmac.new(self._mac_key, msg, hashlib.sha256).hexdigest()

    # --- read side ---------------------------------------------------------------------

    def reveal(self, session_id: str, label: str, index: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM pseudonyms WHERE session_id = ? AND label = ? AND idx = ?",
                (session_id, label, index),
            ).fetchone()
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
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM pseudonyms WHERE session_id = ?", (session_id,)
            ).fetchone()
        return n

    # --- ownership and deletion --------------------------------------------------------

    def link_session(self, session_id: str, student_id: str) -> None:
        """Record which student a session belongs to, so ``forget_student`` can find it."""
        owner = pseudonymous_id(self._mac_key, "stu", student_id)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO session_owners (session_id, student) VALUES (?, ?)",
                (session_id, owner),
            )

    def sessions_of(self, student_id: str) -> list[str]:
        owner = pseudonymous_id(self._mac_key, "stu", student_id)
        with self._lock:
            rows = self._db.execute(
                "SELECT session_id FROM session_owners WHERE student = ? ORDER BY session_id",
                (owner,),
            ).fetchall()
        return [r[0] for r in rows]

    def forget_session(self, session_id: str) -> int:
        """Delete every pseudonym of a session; returns how many values were removed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                n = self._db.execute(
                    "DELETE FROM pseudonyms WHERE session_id = ?", (session_id,)
                ).rowcount
                self._db.execute("DELETE FROM aliases WHERE session_id = ?", (session_id,))
                self._db.execute("DELETE FROM session_owners WHERE session_id = ?", (session_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def forget_student(self, student_id: str) -> int:
        """Delete the vault entries of every session recorded for this student."""
        return sum(self.forget_session(s) for s in self.sessions_of(student_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()
