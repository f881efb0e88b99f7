"""Webhook events: written to an outbox in the event's own transaction, then delivered
by a worker, signed, and retried with exponential backoff.

Signatures follow the Standard Webhooks scheme, so partners verify with any of its
libraries: headers ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with
the base64 part of the ``whsec_…`` secret. Payloads carry ids and codes, never text.

Before each attempt the URL is checked again (``service/urlsafety.py``) and the request is
sent to the address that check approved, so a DNS answer that changed since registration
cannot point a delivery at the district's own network. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from readloom.service.urlsafety import IPAddress, UnsafeUrl, UrlPolicy, check_url
from readloom.settings import ApiSection as ApiConfig
from readloom.settings import Settings
from readloom.storage.db import Database
from readloom.storage.leases import Leases
from readloom.storage.models import Webhook, WebhookDelivery, new_id, utcnow

log = logging.getLogger("readloom.service.outbox")

EVENT_TYPES = (
    "alert.created",
    "alert.acknowledged",
    "graded_response.created",
    "mastery.updated",
    "question_job.completed",
    "session.created",
    "xapi.statement",
)
MAX_ADDRESSES = 4  # approved addresses tried in turn when a connection is refused


def url_policy(settings: Settings) -> UrlPolicy:
    """Which webhook URLs this deployment accepts (registration and delivery alike)."""
    return UrlPolicy(
        allow_http=settings.webhook_allow_http, allow_private=settings.webhook_allow_private
    )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance_s: int = 300) -> bool:
    """What a partner runs on receipt (used by the tests as the partner would)."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(h["webhook-timestamp"])
        expected = sign(secret, h["webhook-id"], ts, body)
    except (KeyError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance_s:
        return False
    return any(hmac.compare_digest(expected, s) for s in h.get("webhook-signature", "").split())


async def enqueue(
    session: AsyncSession,
    *,
    tenant: str,
    event_type: str,
    data: dict[str, Any],
    student_id: str | None = None,
) -> int:
    """Add one delivery per subscribed webhook; returns how many."""
    hooks = (
        (
            await session.execute(
                select(Webhook).where(Webhook.tenant_id == tenant, Webhook.active.is_(True))
            )
        )
        .scalars()
        .all()
    )
    n = 0
    for hook in hooks:
        if hook.events and event_type not in hook.events:
            continue
        delivery_id = new_id("dlv")
        payload = {
            "id": delivery_id,
            "type": event_type,
            "tenant": tenant,
            "created_at": utcnow().isoformat(),
            "data": data,
        }
        session.add(
            WebhookDelivery(
                id=delivery_id,
                webhook_id=hook.id,
                tenant_id=tenant,
                student_id=student_id,
                event_type=event_type,
                payload=payload,
            )
        )
        n += 1
    return n


class OutboxWorker:
    """One asyncio task per server. A delivery is claimed with a lease
    (``storage/leases.py``), which dies with its process: a worker that stops, cleanly or
    killed, gives back what it had claimed at once, still ``pending`` (a partner may get
    one twice, never zero times; ``webhook-id`` lets it tell). Several workers can share a
    database."""

    def __init__(
        self, db: Database, config: ApiConfig, leases: Leases, policy: UrlPolicy | None = None
    ):
        self.db = db
        self.config = config
        self.leases = leases
        self.policy = policy or UrlPolicy()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._leased: set[str] = set()  # claimed by this worker, outcome not yet recorded

    def nudge(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        # An explicit transport means no proxy from the environment: a proxy would resolve
        # the host itself, past the address check. No keep-alive: connections are made to
        # pinned addresses, and one partner's TLS connection must never carry another's.
        transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self._client = httpx.AsyncClient(
            transport=transport, timeout=self.config.webhook_timeout_s, follow_redirects=False
        )
        self._task = asyncio.create_task(self._run(), name="readloom-outbox")

    async def stop(self) -> None:
        """Stop the worker, then give back the deliveries it had claimed but not recorded
        (their rows were never changed: only the lease is released, nothing to write)."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        leased, self._leased = list(self._leased), set()
        for delivery_id in leased:
            await self.leases.release(_key(delivery_id))
        if self._client:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker must survive a bad row
                log.warning("outbox_error type=%s", type(exc).__name__)
                sent = 0
            if sent:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.config.outbox_poll_s)

    async def drain_once(self, batch: int = 20) -> int:
        """Deliver what is due; returns the number of attempts made."""
        async with self.db.reader() as s:
            ids = list(
                (
                    await s.execute(
                        select(WebhookDelivery.id)
                        .where(*_due(utcnow()))
                        .order_by(WebhookDelivery.next_attempt_at)
                        .limit(batch)
                    )
                ).scalars()
            )
        claimed = []
        for delivery_id in ids:
            if delivery_id in self._leased or not await self.leases.try_acquire(_key(delivery_id)):
                continue  # ours already, or another worker's
            self._leased.add(delivery_id)
            # Read again under the lease: a worker that had it may have recorded it since.
            async with self.db.reader() as s:
                row = (
                    await s.execute(
                        select(WebhookDelivery, Webhook)
                        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                        .where(WebhookDelivery.id == delivery_id, *_due(utcnow()))
                    )
                ).first()
            if row is None:
                self._leased.discard(delivery_id)
                await self.leases.release(_key(delivery_id))
                continue
            delivery, hook = row
            claimed.append((delivery.id, delivery.payload, delivery.attempts, hook))
        if claimed:
            await asyncio.gather(*(self._deliver(*c) for c in claimed))
        return len(claimed)

    async def _deliver(
        self, delivery_id: str, payload: dict[str, Any], attempts: int, hook: Webhook
    ) -> None:
        """One attempt under the lease, which is given back however it ends (recorded,
        failed to record, or cut short by a stop: the row is then still ``pending``)."""
        try:
            await self._attempt(delivery_id, payload, attempts, hook)
        finally:
            self._leased.discard(delivery_id)
            await asyncio.shield(self.leases.release(_key(delivery_id)))

    async def _attempt(
        self, delivery_id: str, payload: dict[str, Any], attempts: int, hook: Webhook
    ) -> None:
        assert self._client is not None
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "readloom-webhooks/1",
            "webhook-id": delivery_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(hook.secret, delivery_id, ts, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            resp = await self._post(hook.url, body, headers)
            status = resp.status_code
            ok = 200 <= status < 300
            if not ok:
                error = f"http_{status}"
        except UnsafeUrl as exc:
            ok = False
            error = (
                "dns_unresolvable" if exc.reason == "unresolvable" else f"url_refused:{exc.reason}"
            )
            log.warning("webhook_refused delivery=%s reason=%s", delivery_id, exc.reason)
        except httpx.HTTPError as exc:
            ok, error = False, type(exc).__name__
        attempts += 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": status,
            "last_error": error,
        }
        if ok:
            values.update(status="delivered", delivered_at=utcnow())
        elif attempts >= self.config.webhook_max_attempts:
            values.update(status="failed")
        else:
            values["next_attempt_at"] = utcnow() + timedelta(seconds=self.backoff(attempts))
        async with self.db.writer() as s:
            await s.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
            )
        log.info(
            "webhook_attempt delivery=%s attempts=%d ok=%s status=%s error=%s",
            delivery_id, attempts, ok, status, error,
        )  # fmt: skip

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST to the addresses the URL check approved, never to a fresh DNS answer."""
        assert self._client is not None
        addresses = await check_url(url, self.policy)
        last: httpx.ConnectError | None = None
        for ip in addresses[:MAX_ADDRESSES]:
            request = pinned_request(self._client, url, ip, content=body, headers=headers)
            try:
                return await self._client.send(request)
            except httpx.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    def backoff(self, attempts: int) -> float:
        """Exponential with full jitter in the upper half: base·2^(n-1), capped."""
        base = min(
            self.config.webhook_backoff_max_s,
            self.config.webhook_backoff_base_s * 2 ** (attempts - 1),
        )
        return base / 2 + random.random() * base / 2


def pinned_request(
    client: httpx.AsyncClient, url: str, ip: IPAddress, *, content: bytes, headers: dict[str, str]
) -> httpx.Request:
    """A POST to ``url`` that connects to ``ip``: the Host header and the TLS server name
    (SNI, and the name the certificate is checked against) stay the URL's own host."""
    u = httpx.URL(url)
    return client.build_request(
        "POST",
        u.copy_with(host=str(ip)),
        content=content,
        headers={**headers, "host": u.netloc.decode("ascii")},
        extensions={"sni_hostname": u.raw_host.decode("ascii")},
    )


def _key(delivery_id: str) -> str:
    return f"webhook-delivery:{delivery_id}"


def _due(now: Any) -> tuple[Any, ...]:
    """Pending and due (``locked_until``, the old time-based claim, is no longer used)."""
    return (WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
