"""``Idempotency-Key`` on POST: a retried request is answered once and replayed after.

The first request claims the key (a committed ``in_progress`` row), does its work, and
stores its response in the same transaction as its effects, so a replay never sees an
effect without its answer. A retry with the same key and body gets the stored answer;
the same key with another body is a 422; a retry while the first is still running is a
409. A request holds its key's lease (``storage/leases``) while it runs; the lease dies
with its server, so a claim left unfinished by a killed server is taken over by the
first retry, at once and on any worker, while a live one is never taken. The stored answer
is encrypted with the vault key: it may carry real names (a teacher's questions), and nothing
readable of a child's sits at rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from readloom.errors import Conflict, InputError
from readloom.service.principal import Principal
from readloom.service.runtime import CoreRuntime as Runtime
from readloom.storage.models import IdempotencyRecord, utcnow

MAX_KEY_LEN = 255
SEALED = "sealed"  # the stored answer: {"sealed": <Fernet token of the JSON body>}


@dataclass(frozen=True)
class Claim:
    record_id: int
    key: str
    lease: str  # held while the request runs (``storage/leases``)
    fernet: Fernet | None = None


def _fernet(rt: Runtime) -> Fernet:
    from readloom.guardrails.keys import load_key

    return _fernet_of(load_key(rt.settings))


@lru_cache(maxsize=4)
def _fernet_of(key: bytes) -> Fernet:
    return Fernet(key)


def _opened(fernet: Fernet, stored: dict[str, Any]) -> dict[str, Any]:
    """A stored answer back (one written before answers were encrypted is as it was)."""
    token = stored.get(SEALED) if len(stored) == 1 else None
    if not isinstance(token, str):
        return stored
    return json.loads(fernet.decrypt(token.encode()))


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def request_hash(method: str, path: str, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        h.update(part)
    return h.hexdigest()


async def begin(
    rt: Runtime,
    principal: Principal,
    key: str | None,
    *,
    method: str,
    path: str,
    body: bytes,
    student_id: str | None = None,
) -> Claim | Replay | None:
    """None without a key; a Replay of a finished request; else a fresh Claim, whose
    lease the caller frees with ``settle`` (done) or ``release`` (failed)."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LEN or not key.isprintable():
        raise InputError("Idempotency-Key must be 1-255 printable characters")
    digest = request_hash(method, path, body)
    lease = f"idempotency:{principal.key_id}:{key}"
    if not await rt.leases.try_acquire(lease):  # a live request holds this key
        async with rt.db.reader() as s:
            row = await _record(s, principal, key)
        if row is not None:
            _check_same(row, digest)
            if row.state == "done" and row.response is not None:
                return Replay(row.status_code or 200, _opened(_fernet(rt), row.response))
        raise Conflict(
            "a request with this Idempotency-Key is still in progress; retry shortly",
            code="idempotency_in_progress",
            retry_after=1.0,
        )
    try:
        async with rt.db.writer() as s:
            row = await _record(s, principal, key)
            if row is not None:
                _check_same(row, digest)
                if row.state == "done" and row.response is not None:
                    await rt.leases.release(lease)
                    return Replay(row.status_code or 200, _opened(_fernet(rt), row.response))
                # unfinished and unleased: its request died with its server; take it over
                row.owner, row.created_at = rt.instance_id, utcnow()
                return Claim(row.id, key, lease, _fernet(rt))
            rec = IdempotencyRecord(
                tenant_id=principal.tenant,
                api_key_id=principal.key_id,
                key=key,
                method=method,
                path=path[:500],
                request_hash=digest,
                owner=rt.instance_id,
                student_id=student_id,
            )
            s.add(rec)
            await s.flush()
            return Claim(rec.id, key, lease, _fernet(rt))
    except BaseException:
        await rt.leases.release(lease)
        raise


async def _record(s: AsyncSession, principal: Principal, key: str) -> IdempotencyRecord | None:
    return (
        await s.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == principal.key_id, IdempotencyRecord.key == key
            )
        )
    ).scalar_one_or_none()


def _check_same(row: IdempotencyRecord, digest: str) -> None:
    if row.request_hash != digest:
        raise InputError(
            "Idempotency-Key was already used with a different request",
            code="idempotency_key_reused",
        )


async def complete(
    session: AsyncSession, claim: Claim | None, status_code: int, body: dict[str, Any]
) -> None:
    """Store the answer, inside the caller's transaction that writes the effects."""
    if claim is None:
        return
    row = await session.get(IdempotencyRecord, claim.record_id)
    if row is not None:
        row.state = "done"
        row.status_code = status_code
        fernet = claim.fernet
        row.response = (
            body if fernet is None
            else {SEALED: fernet.encrypt(json.dumps(body).encode()).decode()}
        )  # fmt: skip


async def settle(rt: Runtime, claim: Claim | None) -> None:
    """Free the claim's lease once its answer is committed (or its row forgotten)."""
    if claim is not None:
        await rt.leases.release(claim.lease)


async def release(rt: Runtime, claim: Claim | None) -> None:
    """Forget a claim whose request failed, so that a retry runs it again."""
    if claim is None:
        return
    try:
        async with rt.db.writer() as s:
            await s.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id == claim.record_id, IdempotencyRecord.state != "done"
                )
            )
    finally:
        await settle(rt, claim)
