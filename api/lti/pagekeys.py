"""API keys minted for pages: short-lived, bound to one launched user and role.

They are ordinary readloom API keys (so the pages use the public ``/v1`` API like any
partner), recorded with an expiry in the launch store; the sweeper revokes them once
expired. Also used by the local demo's "Open as student / teacher".
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import anyio

from readloom.api.auth import KeyCache, create_key, revoke_key
from readloom.api.lti.context import WebState
from readloom.api.lti.store import PageKey
from readloom.storage.db import Database

log = logging.getLogger("readloom.web")


async def issue_page_key(
    web: WebState,
    db: Database,
    *,
    tenant: str,
    role: str,
    subject: str,
    source: str,
    launch: dict[str, Any] | None = None,
) -> tuple[str, PageKey]:
    """(secret key, its record). The secret goes to the page only, never to a log."""
    new = await create_key(db, tenant=tenant, role=role, subject=subject)  # type: ignore[arg-type]
    record = await anyio.to_thread.run_sync(
        lambda: web.store.add_key(
            key_id=new.id,
            tenant=tenant,
            role=role,
            source=source,
            ttl_s=web.config.page_key_ttl_s,
            launch=launch,
        )  # fmt: skip
    )
    log.info("page_key_issued key_id=%s role=%s source=%s", new.id, role, source)
    return new.key, record


def expires_iso(record: PageKey) -> str:
    return datetime.fromtimestamp(record.expires_at, UTC).isoformat(timespec="seconds")


async def sweep_expired(web: WebState, db: Database, keys: KeyCache) -> int:
    """Revoke every expired page key; returns how many were revoked."""
    expired = await anyio.to_thread.run_sync(lambda: web.store.expired())
    for k in expired:
        await revoke_key(db, tenant=k.tenant, key_id=k.key_id)
        keys.forget(k.key_id)
        await anyio.to_thread.run_sync(web.store.mark_revoked, k.key_id)
    if expired:
        log.info("page_keys_revoked count=%d", len(expired))
    return len(expired)


async def sweeper(web: WebState, get_runtime: Any) -> None:
    """Runs for the app's lifetime (started by ``register_web``'s lifespan)."""
    while True:
        await asyncio.sleep(web.config.sweep_interval_s)
        rt = get_runtime()
        if rt is None:
            continue
        try:
            await sweep_expired(web, rt.db, rt.keys)
        except Exception as exc:  # noqa: BLE001 - keep sweeping; the next round retries
            log.warning("page_key_sweep_failed type=%s", type(exc).__name__)
