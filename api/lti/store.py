"""Short-lived launch state, in the one database (``lti_*`` tables), shared by workers.

- OIDC ``state`` values issued by ``/lti/login`` (single use, 10 minutes), each bound
  to its ``nonce``;
- nonces already seen in a verified id_token (a replayed token is refused);
- the page keys minted for launched users (and demo users): their expiry, and for LTI
  launches what AGS needs to post a score. The sweeper revokes expired keys.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from readloom.settings import Settings
from readloom.storage.models_stores import LtiNonce, LtiPageKey, LtiState
from readloom.storage.stores import store_db

STATE_TTL_S = 600.0
_ST = LtiState.__table__
_NO = LtiNonce.__table__
_PK = LtiPageKey.__table__


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
        self._db = store_db(settings)

    def close(self) -> None:
        """The pool is shared by every store of the process (``storage.stores``)."""

    # --- OIDC state and nonce -----------------------------------------------------------

    def issue_state(self, issuer: str, client_id: str) -> IssuedState:
        issued = IssuedState(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        now = time.time()
        with self._db.write() as conn:
            conn.execute(
                insert(_ST).values(
                    state=issued.state, nonce=issued.nonce, issuer=issuer,
                    client_id=client_id, created_at=now,
                )
            )  # fmt: skip
            conn.execute(delete(_ST).where(_ST.c.created_at < now - 86400))
        return issued

    def consume_state(self, state: str) -> tuple[str, str, str] | None:
        """(nonce, issuer, client_id) of an unused, unexpired state, marking it used;
        None otherwise (unknown, expired or replayed)."""
        now = time.time()
        with self._db.write() as conn:
            row = conn.execute(
                update(_ST)
                .where(
                    _ST.c.state == state, _ST.c.used_at.is_(None),
                    _ST.c.created_at >= now - STATE_TTL_S,
                )
                .values(used_at=now)
                .returning(_ST.c.nonce, _ST.c.issuer, _ST.c.client_id)
            ).first()  # fmt: skip
        return (row[0], row[1], row[2]) if row else None

    def use_nonce(self, issuer: str, nonce: str) -> bool:
        """True the first time a nonce is seen for an issuer, False on a replay."""
        now = time.time()
        try:
            with self._db.write() as conn:
                conn.execute(insert(_NO).values(issuer=issuer, nonce=nonce, used_at=now))
        except IntegrityError:
            return False
        with self._db.write() as conn:
            conn.execute(delete(_NO).where(_NO.c.used_at < now - 7 * 86400))
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
        with self._db.write() as conn:
            conn.execute(
                insert(_PK).values(
                    key_id=key_id, tenant=tenant, role=role, source=source,
                    expires_at=key.expires_at, launch=json.dumps(launch) if launch else None,
                )
            )  # fmt: skip
        return key

    def get_key(self, key_id: str) -> PageKey | None:
        cols = (_PK.c.key_id, _PK.c.tenant, _PK.c.role, _PK.c.source, _PK.c.expires_at)
        with self._db.read() as conn:
            row = conn.execute(
                select(*cols, _PK.c.launch).where(
                    _PK.c.key_id == key_id, _PK.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        return PageKey(
            row[0], row[1], row[2], row[3], row[4], json.loads(row[5]) if row[5] else None
        )

    def expired(self, *, now: float | None = None, limit: int = 500) -> list[PageKey]:
        now = time.time() if now is None else now
        cols = (_PK.c.key_id, _PK.c.tenant, _PK.c.role, _PK.c.source, _PK.c.expires_at)
        with self._db.read() as conn:
            rows = conn.execute(
                select(*cols)
                .where(_PK.c.revoked_at.is_(None), _PK.c.expires_at <= now)
                .limit(limit)
            ).all()
        return [PageKey(r[0], r[1], r[2], r[3], r[4], None) for r in rows]

    def mark_revoked(self, key_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(_PK)
                .where(_PK.c.key_id == key_id)
                .values(revoked_at=time.time(), launch=None)
            )
