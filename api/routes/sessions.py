"""Tutoring sessions: create, list, read, post a message (JSON or SSE), read history."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sse_starlette.sse import EventSourceResponse
from starlette.types import Receive, Scope, Send

from readloom.api import idempotency
from readloom.api.auth import Principal
from readloom.api.deps import RuntimeDep, ScopeDep, ServiceDep, allow
from readloom.api.idempotency import IdempotencyKey, Replay
from readloom.api.problems import Forbidden
from readloom.api.schemas import (
    HistoryItem,
    HistoryOut,
    MessageIn,
    MessageOut,
    SessionIn,
    SessionList,
    SessionOut,
)
from readloom.errors import InputError, NotFound
from readloom.service.tutoring import (
    for_viewer,
    reidentify,
    reidentify_body,
    replay_events,
    run_turn,
    session_lock,
    sse_events,
)
from readloom.service.unit_of_work import unit_of_work
from readloom.storage.models import Message, TutoringSession

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

Tutee = Annotated[Principal, allow("student", "partner", "admin")]
SSE = "text/event-stream"


class ClaimedEventStream(EventSourceResponse):
    """An SSE response that owns an Idempotency-Key claim until its events start.

    The events free the claim in their own ``finally``; but a client that leaves before
    the body starts means an async generator that never started, whose ``finally`` never
    runs: the key's lease stayed held until the process exited (every retry a 409).
    """

    def __init__(
        self,
        rt: Any,
        claim: idempotency.Claim | None,
        events: AsyncGenerator[dict[str, Any], None],
        **kwargs: Any,
    ) -> None:
        self._rt, self._claim, self._events, self._started = rt, claim, events, False
        super().__init__(self._tracked(), **kwargs)

    async def _tracked(self) -> AsyncGenerator[dict[str, Any], None]:
        self._started = True  # from here the events' own finally frees the claim
        async with contextlib.aclosing(self._events) as events:
            async for event in events:
                yield event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._started:  # the turn never ran: forget its claim for a retry
                with anyio.CancelScope(shield=True):
                    await idempotency.release(self._rt, self._claim)


def _out(row: TutoringSession, count: int = 0) -> SessionOut:
    return SessionOut(
        id=row.id, student_id=row.student_id, grade=row.grade, passage_id=row.passage_id,
        created_at=row.created_at, message_count=count,
    )  # fmt: skip


@router.post("", status_code=201, response_model=SessionOut)
async def create_session(
    body: SessionIn,
    request: Request,
    principal: Tutee,
    rt: RuntimeDep,
    scope: ScopeDep,
    service: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Start a tutoring session for a student on a passage."""
    if principal.role == "student":
        if body.student_id not in (None, principal.subject):
            raise Forbidden("a student may only start their own sessions")
        student_id = principal.subject or ""
    elif body.student_id is None:
        raise InputError("body.student_id: required for partner and admin keys")
    else:
        student_id = body.student_id
    if not await scope.passage_visible(body.passage_id):
        raise NotFound(f"no passage {body.passage_id!r}")
    await anyio.to_thread.run_sync(service.services.store.get, body.passage_id)  # 404 if unknown

    async def work(claim: idempotency.Claim | None) -> tuple[int, dict[str, Any]]:
        sid = str(uuid.uuid4())
        async with unit_of_work(rt, principal.tenant, new_tenant=True) as uow:
            await uow.ensure_student(student_id, body.grade)
            row = TutoringSession(
                id=sid, tenant_id=principal.tenant, student_id=student_id, grade=body.grade,
                passage_id=body.passage_id,
            )  # fmt: skip
            uow.session.add(row)
            await uow.session.flush()
            out = _out(row).model_dump(mode="json")
            await uow.statement(
                student_id=student_id, verb="launched", object_kind="passage",
                object_id=body.passage_id, registration=sid,
            )  # fmt: skip
            await uow.event(
                "session.created", student_id=student_id,
                data={"session_id": sid, "student_id": student_id, "passage_id": body.passage_id},
            )  # fmt: skip
            if not body.open:
                await uow.answer(claim, 201, out)
        if body.open:  # the tutor speaks first; its question needs no student text
            async with session_lock(sid):
                opened, _ = await run_turn(rt, service, principal, row, "", None, opening=True)
            out["opening"] = for_viewer(opened.model_dump(mode="json"), principal.role)
            out["message_count"] = 1
            async with unit_of_work(rt, principal.tenant) as uow:
                await uow.answer(claim, 201, out)
        return 201, out

    return await idempotency.run_once(
        rt, principal, request, idempotency_key, work, student_id=student_id
    )


@router.get("", response_model=SessionList)
async def list_sessions(
    scope: ScopeDep,
    rt: RuntimeDep,
    student_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SessionList:
    """Sessions the caller may see (a student: their own; a teacher: their classes')."""
    stmt = scope.scoped(
        select(TutoringSession), TutoringSession.tenant_id, TutoringSession.student_id
    )
    if student_id is not None:
        stmt = stmt.where(TutoringSession.student_id == student_id)
    stmt = stmt.order_by(TutoringSession.created_at.desc()).limit(limit)
    async with rt.db.reader() as s:
        rows = (await s.execute(stmt)).scalars().all()
    return SessionList(items=[_out(r) for r in rows])


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(session_id: str, scope: ScopeDep, rt: RuntimeDep) -> SessionOut:
    row = await scope.session(session_id)
    async with rt.db.reader() as s:
        count = (
            await s.execute(select(func.count()).where(Message.session_id == session_id))
        ).scalar_one()
    return _out(row, count)


@router.post(
    "/{session_id}/messages",
    response_model=MessageOut,
    responses={200: {"content": {SSE: {"schema": {"type": "string"}}}}},
)
async def post_message(
    session_id: str,
    body: MessageIn,
    request: Request,
    principal: Tutee,
    scope: ScopeDep,
    rt: RuntimeDep,
    service: ServiceDep,
    idempotency_key: IdempotencyKey = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """Send the student's message; the tutor's reply comes back as JSON, or as a token
    stream (``Accept: text/event-stream``: ``token`` events, then ``done``)."""
    sess = await scope.session(session_id)
    claim = await idempotency.begin(
        rt, principal, idempotency_key, method="POST", path=request.url.path,
        body=await request.body(), student_id=sess.student_id,
    )  # fmt: skip
    streaming = SSE in (accept or "")
    if isinstance(claim, Replay):
        replayed = for_viewer(
            await reidentify_body(service, claim.body, role=principal.role), principal.role
        )
        if streaming:
            return EventSourceResponse(replay_events(replayed), headers=idempotency.REPLAY_HEADERS)
        return JSONResponse(replayed, headers=idempotency.REPLAY_HEADERS)
    if streaming:
        # On shutdown the turn may finish within the grace period, just before uvicorn's.
        grace = max(0.0, rt.settings.shutdown_grace_s - 0.5)
        return ClaimedEventStream(
            rt, claim, sse_events(rt, service, principal, sess, body.text, claim),
            shutdown_grace_period=grace,
        )  # fmt: skip
    try:
        async with session_lock(session_id):
            out, timings = await run_turn(rt, service, principal, sess, body.text, claim)
    except BaseException:
        await idempotency.release(rt, claim)
        raise
    await idempotency.settle(rt, claim)
    timing = ", ".join(f"{k};dur={v:.1f}" for k, v in timings.items())
    body_out = for_viewer(out.model_dump(mode="json"), principal.role)
    return JSONResponse(body_out, headers={"Server-Timing": timing})


@router.get("/{session_id}/messages", response_model=HistoryOut)
async def get_history(
    session_id: str, scope: ScopeDep, rt: RuntimeDep, service: ServiceDep
) -> HistoryOut:
    """Every acknowledged message of the session, re-identified for the viewer."""
    await scope.session(session_id)
    async with rt.db.reader() as s:
        rows = (
            (
                await s.execute(
                    select(Message).where(Message.session_id == session_id).order_by(Message.seq)
                )
            )
            .scalars()
            .all()
        )
    items = [
        HistoryItem(
            seq=r.seq,
            text=await reidentify(service, r.text, session_id, role=scope.principal.role),
            reply=await reidentify(service, r.reply, session_id, role=scope.principal.role),
            move=(r.meta or {}).get("move"),
            blocked=bool((r.meta or {}).get("blocked")),
            created_at=r.created_at,
        )
        for r in rows
    ]
    return HistoryOut(session_id=session_id, items=items)
