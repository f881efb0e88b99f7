"""Short-lived launch state under ``READLOOM_HOME/lti/launches.sqlite``.

- OIDC ``state`` values issued by ``/lti/login`` (single use, 10 minutes), each bound
  to its ``nonce``;
- nonces already seen in a verified id_token (a replayed token is refused);
- the page keys minted for launched users (and demo users): their expiry, and for LTI
  launches what AGS needs to post a score. The sweeper revokes expired keys.

Like the guardrails' audit log and vault, this is a per-machine SQLite store; several
API workers on one machine share it (WAL, short transactions).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readloom.settings import Settings

STATE_TTL_S = 600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lti_states (
  state TEXT PRIMARY KEY, nonce TEXT NOT NULL, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
  created_at REAL NOT NULL, used_at REAL
);
CREATE TABLE IF NOT EXISTS lti_nonces (
  issuer TEXT NOT NULL, nonce TEXT NOT NULL, used_at REAL NOT NULL, PRIMARY KEY (issuer, nonce)
);
CREATE TABLE IF NOT EXISTS page_keys (
  key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, role TEXT NOT NULL, source TEXT NOT NULL,
  expires_at REAL NOT NULL, revoked_at REAL, launch TEXT
);
CREATE INDEX IF NOT EXISTS page_keys_expiry ON page_keys (revoked_at, expires_at);
"""


@dataclass(frozen=True)
class IssuedState:
    state: str
    nonce: str


@dataclass(frozen=True)
class PageKey:
    key_id: str
    tenant: str
    role: str
    source: str  # "lti" | "demo"
    expires_at: float
    launch: dict[str, Any] | None  # issuer, client_id, sub, ags endpoint (LTI only)


class LaunchStore:
    def __init__(self, settings: Settings):
        path = Path(settings.home) / "lti" / "launches.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # --- OIDC state and nonce -----------------------------------------------------------

    def issue_state(self, issuer: str, client_id: str) -> IssuedState:
        issued = IssuedState(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO lti_states (state, nonce, issuer, client_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (issued.state, issued.nonce, issuer, client_id, now),
            )
            self._db.execute("DELETE FROM lti_states WHERE created_at < ?", (now - 86400,))
        return issued

    def consume_state(self, state: str) -> tuple[str, str, str] | None:
        """(nonce, issuer, client_id) of an unused, unexpired state, marking it used;
        None otherwise (unknown, expired or replayed)."""
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "UPDATE lti_states SET used_at = ? WHERE state = ? AND used_at IS NULL"
                " AND created_at >= ? RETURNING nonce, issuer, client_id",
                (now, state, now - STATE_TTL_S),
            )
            row = cur.fetchone()
        return (row[0], row[1], row[2]) if row else None

    def use_nonce(self, issuer: str, nonce: str) -> bool:
        """True the first time a nonce is seen for an issuer, False on a replay."""
        now = time.time()
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO lti_nonces (issuer, nonce, used_at) VALUES (?, ?, ?)",
                    (issuer, nonce, now),
                )
            except sqlite3.IntegrityError:
                return False
            self._db.execute("DELETE FROM lti_nonces WHERE used_at < ?", (now - 7 * 86400,))
        return True

    # --- page keys ----------------------------------------------------------------------

    def add_key(
        self,
        *,
        key_id: str,
        tenant: str,
        role: str,
        source: str,
        ttl_s: float,
        launch: dict[str, Any] | None = None,
    ) -> PageKey:
        key = PageKey(key_id, tenant, role, source, time.time() + ttl_s, launch)
        with self._lock:
            self._db.execute(
                "INSERT INTO page_keys (key_id, tenant, role, source, expires_at, launch)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    tenant,
                    role,
                    source,
                    key.expires_at,
                    json.dumps(launch) if launch else None,
                ),
            )
        return key

    def get_key(self, key_id: str) -> PageKey | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key_id, tenant, role, source, expires_at, launch FROM page_keys"
                " WHERE key_id = ? AND revoked_at IS NULL",
                (key_id,),
            ).fetchone()
        if row is None:
            return None
        return PageKey(
            row[0], row[1], row[2], row[3], row[4], json.loads(row[5]) if row[5] else None
        )

    def expired(self, *, now: float | None = None, limit: int = 500) -> list[PageKey]:
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, tenant, role, source, expires_at FROM page_keys"
                " WHERE revoked_at IS NULL AND expires_at <= ? LIMIT ?",
                (now, limit),
            ).fetchall()
        return [PageKey(r[0], r[1], r[2], r[3], r[4], None) for r in rows]

    def mark_revoked(self, key_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE page_keys SET revoked_at = ?, launch = NULL WHERE key_id = ?",
                (time.time(), key_id),
            )
