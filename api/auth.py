"""API keys: minted once, stored as a SHA-256 hash, bound to a tenant and a role.

A key is ``rlk_<8 hex id>_<43 chars of randomness>``; its first 12 characters (the
prefix) identify it in listings. 256 bits of randomness make a plain SHA-256 safe
(no dictionary to attack), and lookups stay O(1) by hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from readloom.guardrails.base import Role  # the one Role literal
from readloom.service.principal import Principal as Principal  # re-exported
from readloom.service.tenants import default_home_page as default_home_page
from readloom.service.tenants import ensure_tenant as ensure_tenant
from readloom.storage.db import Database
from readloom.storage.models import ApiKey, utcnow
from readloom.storage.ratelimit import Limiter

ROLES: tuple[Role, ...] = ("student", "teacher", "partner", "admin")
KEY_PREFIX = "rlk_"
TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class NewKey:
    id: str
    key: str  # shown once, never stored
    prefix: str
    tenant: str
    role: Role
    subject: str | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mint_key() -> tuple[str, str, str]:
    """(key id, full secret key, displayable prefix)."""
    short = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{short}_{secrets.token_urlsafe(32)}"
    return f"key_{short}{secrets.token_hex(4)}", key, key[:12]


async def create_key(
    db: Database, *, tenant: str, role: Role, subject: str | None = None
) -> NewKey:
    if not TENANT_RE.fullmatch(tenant):
        raise ValueError("tenant must be 1-64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role in ("student", "teacher") and not subject:
        raise ValueError(f"a {role} key needs --subject (the partner's pseudonymous id)")
    key_id, key, prefix = mint_key()
    async with db.writer() as s:
        await ensure_tenant(s, tenant)
        s.add(
            ApiKey(
                id=key_id,
                tenant_id=tenant,
                role=role,
                subject=subject,
                prefix=prefix,
                key_hash=hash_key(key),
            )
        )
    return NewKey(id=key_id, key=key, prefix=prefix, tenant=tenant, role=role, subject=subject)


class KeyCache:
    """Resolves bearer keys to principals, caching hits briefly (a revocation takes
    effect within ``ttl_s`` on other workers; at once on the worker that revoked)."""

    def __init__(self, db: Database, *, ttl_s: float = 30.0, max_entries: int = 10_000):
        self.db = db
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def resolve(self, key: str) -> Principal | None:
        if not key.startswith(KEY_PREFIX) or len(key) > 128:
            return None
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        async with self.db.reader() as s:
            row = (
                await s.execute(select(ApiKey).where(ApiKey.key_hash == digest))
            ).scalar_one_or_none()
        principal = None
        if row is not None and row.revoked_at is None:
            principal = Principal(row.id, row.tenant_id, row.role, row.subject)  # type: ignore[arg-type]
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl_s, principal)
        return principal

    def forget(self, key_id: str) -> None:
        for digest, (_, p) in list(self._cache.items()):
            if p is not None and p.key_id == key_id:
                del self._cache[digest]


async def revoke_key(db: Database, *, tenant: str, key_id: str) -> bool:
    async with db.writer() as s:
        row = await s.get(ApiKey, key_id)
        if row is None or row.tenant_id != tenant or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
    return True


class RateLimiter:
    """Requests per minute per API key, in the shared ``Limiter`` (Redis with several
    workers). ``take`` answers 0 when allowed, else the seconds to wait."""

    def __init__(self, per_minute: int, limiter: Limiter | None = None, *, settings: Any = None):
        from readloom.settings import get_settings

        self.per_minute = per_minute
        self.limiter = limiter or Limiter(settings or get_settings())

    def take(self, key_id: str) -> float:
        return self.limiter.hit("api_key", key_id, self.per_minute)
