"""``Idempotency-Key`` for the HTTP layer: the header, and ``run_once`` for JSON routes.

The claim/replay/lease logic is the core's (``service/idempotency.py``), re-exported here
so existing imports keep working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse

from readloom.api.auth import Principal
from readloom.api.runtime import Runtime
from readloom.service.idempotency import (
    MAX_KEY_LEN,
    SEALED,
    Claim,
    Replay,
    begin,
    complete,
    release,
    request_hash,
    settle,
)

__all__ = [
    "MAX_KEY_LEN", "SEALED", "Claim", "IdempotencyKey", "Replay", "REPLAY_HEADERS", "Work",
    "begin", "complete", "release", "request_hash", "run_once", "settle",
]  # fmt: skip


Work = Callable[[Claim | None], Awaitable[tuple[int, dict[str, Any]]]]


async def run_once(
    rt: Runtime,
    principal: Principal,
    request: Request,
    key: str | None,
    work: Work,
    *,
    student_id: str | None = None,
    replay: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> JSONResponse:
    """Run ``work`` at most once per key; ``work`` must call ``complete`` in its
    transaction and return (status, body). ``replay`` adapts a stored body on replay."""
    claim = await begin(
        rt, principal, key, method=request.method, path=request.url.path,
        body=await request.body(), student_id=student_id,
    )  # fmt: skip
    if isinstance(claim, Replay):
        body = replay(claim.body) if replay else claim.body
        return JSONResponse(body, status_code=claim.status_code, headers=REPLAY_HEADERS)
    try:
        status, body = await work(claim)
    except BaseException:
        await release(rt, claim)
        raise
    await settle(rt, claim)
    return JSONResponse(body, status_code=status)


REPLAY_HEADERS = {"Idempotent-Replayed": "true"}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=MAX_KEY_LEN,
        description="Retry-safe POST: the same key and body are answered once, then replayed",
    ),
]
