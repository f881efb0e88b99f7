"""A streamed turn whose client leaves before the body starts frees its Idempotency-Key.

The turn's events free the claim in their own ``finally``, but an async generator that
never started never runs it: the key's lease stayed held until the process exited, and
every retry of that key got a 409. The response is driven at the ASGI edge (a client that
is gone before the first byte), with the real database, leases and claim.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from readloom.api.auth import create_key
from readloom.api.routes.sessions import ClaimedEventStream
from readloom.service import idempotency
from readloom.service.principal import Principal
from readloom.settings import Settings
from readloom.storage.db import Database, migrate
from readloom.storage.leases import open_leases
from readloom.storage.models import IdempotencyRecord

SCOPE = {"type": "http", "method": "POST", "path": "/v1/sessions/x/messages", "headers": []}


async def _begin(rt: Any, who: Principal) -> idempotency.Claim | idempotency.Replay | None:
    return await idempotency.begin(
        rt, who, "sse-1", method="POST", path=SCOPE["path"], body=b'{"text":"hi"}'
    )


async def _gone_before_the_body(home: Path, *, ends: str) -> tuple[list[str], Any, int]:
    settings = Settings(home=home)
    migrate(settings)
    rt = SimpleNamespace(
        settings=settings, db=Database(settings), leases=open_leases(settings),
        instance_id="test-instance", outbox=None,
    )  # fmt: skip
    try:
        key = await create_key(rt.db, tenant="t-sse", role="student", subject="s1")
        who = Principal(key_id=key.id, tenant=key.tenant, role=key.role, subject=key.subject)
        claim = await _begin(rt, who)
        assert isinstance(claim, idempotency.Claim)
        ran: list[str] = []

        async def events() -> AsyncIterator[dict[str, Any]]:
            ran.append("started")
            yield {"event": "done", "data": "{}"}

        async def receive() -> dict[str, Any]:
            if ends == "disconnect":
                return {"type": "http.disconnect"}
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            if ends == "send_fails":
                raise OSError("connection reset")
            await anyio.sleep_forever()  # the headers never leave: the body never starts

        with anyio.fail_after(10):
            try:
                await ClaimedEventStream(rt, claim, events())(SCOPE, receive, send)
            except OSError:
                assert ends == "send_fails"
        retry = await _begin(rt, who)
        async with rt.db.reader() as s:
            rows = (await s.execute(select(func.count()).select_from(IdempotencyRecord))).scalar()
        return ran, retry, int(rows or 0)
    finally:
        await rt.leases.close()
        await rt.db.dispose()


@pytest.mark.parametrize("ends", ["disconnect", "send_fails"])
def test_a_stream_that_never_starts_frees_its_key(tmp_path: Path, ends: str) -> None:
    ran, retry, rows = anyio.run(lambda: _gone_before_the_body(tmp_path, ends=ends))
    assert ran == []  # the turn never ran ...
    assert isinstance(retry, idempotency.Claim)  # ... and its retry runs it: no 409
    assert rows == 1  # the unstarted claim was forgotten; only the retry's row is left
