"""Partner webhooks: register a URL (signing secret shown once), list, delete, deliveries.

A URL is accepted only if it passes the SSRF guard (``service/urlsafety.py``): https, no
credentials, and a host that is, and resolves to, public addresses only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from readloom.api import idempotency
from readloom.api.auth import Principal, ensure_tenant
from readloom.api.deps import RuntimeDep, allow
from readloom.api.idempotency import IdempotencyKey
from readloom.api.schemas import (
    DeliveryList,
    DeliveryOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookList,
    WebhookOut,
)
from readloom.errors import InputError, NotFound
from readloom.service.outbox import new_secret, url_policy
from readloom.service.urlsafety import UnsafeUrl, check_url
from readloom.storage.models import Webhook, WebhookDelivery, new_id

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Integrator = Annotated[Principal, allow("partner", "admin")]


def _out(w: Webhook) -> WebhookOut:
    return WebhookOut(
        id=w.id, url=w.url, events=list(w.events or []), active=w.active, created_at=w.created_at
    )


async def _own(rt: Any, principal: Principal, webhook_id: str) -> Webhook:
    async with rt.db.reader() as s:
        w = await s.get(Webhook, webhook_id)
    if w is None or w.tenant_id != principal.tenant:
        raise NotFound(f"no webhook {webhook_id!r}")
    return w


@router.post("", status_code=201, response_model=WebhookCreatedOut)
async def create_webhook(
    body: WebhookIn,
    request: Request,
    principal: Integrator,
    rt: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Register a URL for signed event deliveries (Standard Webhooks signatures)."""
    try:
        await check_url(str(body.url), url_policy(rt.settings))
    except UnsafeUrl as exc:
        raise InputError(exc.detail, code=f"webhook_url_{exc.reason}") from None

    async def work(claim: idempotency.Claim | None) -> tuple[int, dict[str, Any]]:
        w = Webhook(
            id=new_id("whk"), tenant_id=principal.tenant, url=str(body.url),
            secret=new_secret(), events=list(body.events), active=True,
        )  # fmt: skip
        async with rt.db.writer() as s:
            await ensure_tenant(s, principal.tenant)
            s.add(w)
            await s.flush()
            out = WebhookCreatedOut(**_out(w).model_dump(), secret=w.secret).model_dump(mode="json")
            # The replayed answer must not carry the secret again.
            await idempotency.complete(s, claim, 201, {**out, "secret": "(shown once)"})
        return 201, out

    return await idempotency.run_once(rt, principal, request, idempotency_key, work)


@router.get("", response_model=WebhookList)
async def list_webhooks(principal: Integrator, rt: RuntimeDep) -> WebhookList:
    async with rt.db.reader() as s:
        rows = (
            (await s.execute(select(Webhook).where(Webhook.tenant_id == principal.tenant)))
            .scalars()
            .all()
        )
    return WebhookList(items=[_out(w) for w in rows])


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: str, principal: Integrator, rt: RuntimeDep) -> WebhookOut:
    return _out(await _own(rt, principal, webhook_id))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, principal: Integrator, rt: RuntimeDep) -> Response:
    await _own(rt, principal, webhook_id)
    async with rt.db.writer() as s:
        w = await s.get(Webhook, webhook_id)
        if w is not None:
            await s.delete(w)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    webhook_id: str,
    principal: Integrator,
    rt: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    await _own(rt, principal, webhook_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    stmt = stmt.order_by(WebhookDelivery.created_at.desc()).limit(limit)
    async with rt.db.reader() as s:
        rows = (await s.execute(stmt)).scalars().all()
    return DeliveryList(
        items=[
            DeliveryOut(
                id=d.id,
                event_type=d.event_type,
                status=d.status,
                attempts=d.attempts,
                last_status_code=d.last_status_code,
                last_error=d.last_error,
                next_attempt_at=d.next_attempt_at,
                delivered_at=d.delivered_at,
                created_at=d.created_at,
            )  # fmt: skip
            for d in rows
        ]
    )
