"""One tutoring message, end to end: run the turn, record it durably, answer once.

The record (``messages``) holds the *redacted* student message and reply, taken from
the graph's own history, and is committed (WAL, ``synchronous=FULL``) before the reply
is sent: an acknowledged message survives ``kill -9``. Replies are re-identified for the
viewer on the way out, and again when a stored answer is replayed.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anyio
from pydantic import BaseModel
from sqlalchemy import func, select

from readloom.errors import problem_body
from readloom.guardrails.audit import now as audit_now
from readloom.guardrails.policy import can_reidentify
from readloom.mlops import experiments
from readloom.service import Readloom, TurnResult, analytics, idempotency
from readloom.service.idempotency import Claim
from readloom.service.learner import qualified
from readloom.service.limits import admit_turn
from readloom.service.principal import Principal
from readloom.service.runtime import CoreRuntime as Runtime
from readloom.service.unit_of_work import UnitOfWork, unit_of_work
from readloom.service.views import MessageOut, QuestionOut
from readloom.storage.models import Message, TutoringSession, utcnow

_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def session_lock(session_id: str) -> asyncio.Lock:
    """Turns of one session run one at a time (the graph thread is sequential)."""
    lock = _locks.get(session_id)
    if lock is None:
        lock = asyncio.Lock()
        _locks[session_id] = lock
    return lock


async def reidentify(
    service: Readloom, text: str, session_id: str, *, role: str, purpose: str = "view"
) -> str:
    """Real values back for the roles ``guardrails.policy`` allows; pseudonyms for others."""
    if not text or not can_reidentify(role, purpose=purpose):
        return text
    redactor = service.services.guards.redactor
    return await anyio.to_thread.run_sync(lambda: redactor.reidentify(text, session_id=session_id))


async def reidentify_body(service: Readloom, body: dict[str, Any], *, role: str) -> dict[str, Any]:
    """A stored (redacted) MessageOut body, re-identified for the viewer."""
    sid = body["session_id"]
    out = dict(body)
    out["reply"] = await reidentify(service, body.get("reply", ""), sid, role=role)
    q = body.get("current_question")
    if q:
        out["current_question"] = {
            **q,
            **{
                f: await reidentify(service, q.get(f, ""), sid, role=role)
                for f in ("question", "answer", "evidence")
            },
        }
    return out


async def _graph_values(service: Readloom, session_id: str) -> dict[str, Any]:
    """The session's checkpointed (redacted) state."""
    state = await service.graph.aget_state({"configurable": {"thread_id": session_id}})
    return state.values or {}


async def _redacted_record(
    service: Readloom, session_id: str, result: TurnResult
) -> tuple[str, str, dict[str, Any] | None]:
    """The redacted message, reply and current question of the turn just run, read from
    the result when the service carries them (``redacted_message``, ``redacted_reply``,
    ``redacted_question``), else from the checkpointed state (which only ever holds
    redacted text; a read that queues behind every run's checkpoint writes). Every path through the
    graph appends exactly [student, tutor] to the history, and turns of one session run
    one at a time, so they are the last two."""
    carried = getattr(result, "redacted_reply", None)
    if carried is not None:  # the service hands back the redacted text itself: no read
        q = getattr(result, "redacted_question", None)
        question = q.model_dump(mode="json") if isinstance(q, BaseModel) else q
        return getattr(result, "redacted_message", "") or "", carried, question
    values = await _graph_values(service, session_id)
    last = values.get("history", [])[-2:]
    text = last[0].text if len(last) == 2 and last[0].role == "student" else ""
    reply = last[1].text if len(last) == 2 and last[1].role == "tutor" else None
    q = values.get("current_question")
    question = q.model_dump(mode="json") if q is not None and result.current_question else None
    if reply is None:  # unexpected shape: redact the viewer's reply ourselves
        redactor = service.services.guards.redactor
        red = await anyio.to_thread.run_sync(
            lambda: redactor.redact(result.reply, session_id=session_id)
        )
        reply = red.text
    return text, reply, question


async def _turn_kwargs(
    rt: Runtime, sess: TutoringSession, text: str, opening: bool = False
) -> dict[str, Any]:
    """The turn's arguments, with the learner's experiment arms: read before the turn, so
    the tutor applies them and the turn's outcomes are recorded under the same arms."""
    async with rt.db.reader() as s:
        arms = await experiments.assignment(s, sess.tenant_id, sess.student_id)
    return {
        "session_id": sess.id, "message": text, "passage_id": sess.passage_id,
        "grade": sess.grade, "tenant": sess.tenant_id, "role": "student",
        "student_id": qualified(sess.tenant_id, sess.student_id), "opening": opening,
        "policy": arms.policy, "arms": arms.arms,
    }  # fmt: skip


async def run_turn(
    rt: Runtime,
    service: Readloom,
    principal: Principal,
    sess: TutoringSession,
    text: str,
    claim: Claim | None,
    *,
    opening: bool = False,
) -> tuple[MessageOut, dict[str, float]]:
    """Run and record one turn (``opening``: the tutor's first turn, no student text);
    returns the viewer's (re-identified) answer and timings in ms (``turn``: the tutoring
    service; ``record``: the durable write)."""
    limiter = rt.limiter.limiter
    await limiter.off_loop(
        admit_turn, limiter, rt.settings, tenant=sess.tenant_id, student=sess.student_id
    )
    t0, began = time.perf_counter(), audit_now()
    result = await service.tutor_turn(**await _turn_kwargs(rt, sess, text, opening))
    t1 = time.perf_counter()
    out = await record_turn(rt, service, sess, claim, result, began=began)
    t2 = time.perf_counter()
    return out, {"turn": (t1 - t0) * 1000, "record": (t2 - t1) * 1000}


async def record_turn(
    rt: Runtime,
    service: Readloom,
    sess: TutoringSession,
    claim: Claim | None,
    result: TurnResult,
    *,
    began: str,
) -> MessageOut:
    """Commit the redacted exchange (and its idempotent answer) before acknowledging.
    ``began``: the audit stamp taken before the turn ran (which alerts it raised)."""
    red_text, red_reply, redacted_q = await _redacted_record(service, sess.id, result)
    now = utcnow()
    async with unit_of_work(rt, sess.tenant_id) as uow:
        s = uow.session
        seq = (
            await s.execute(
                select(func.coalesce(func.max(Message.seq), 0)).where(Message.session_id == sess.id)
            )
        ).scalar_one() + 1
        meta = {
            "move": result.move, "blocked": result.blocked, "block_reason": result.block_reason,
            "provider": result.provider, "model": result.model,
            "intervention": result.intervention.model_dump(mode="json") if result.intervention else None,
            "grade_result": result.grade_result.model_dump(mode="json") if result.grade_result else None,
            "provenance": {k: result.provenance[k] for k in ("prompt", "models", "experiments", "policy")
                           if k in result.provenance},
        }  # fmt: skip
        s.add(
            Message(
                session_id=sess.id, seq=seq, role="student", text=red_text, reply=red_reply,
                meta=meta, idempotency_key=claim.key if claim else None, created_at=now,
            )
        )  # fmt: skip
        stored = MessageOut(
            session_id=sess.id, seq=seq, reply=red_reply, blocked=result.blocked,
            block_reason=result.block_reason, move=result.move,
            intervention=meta["intervention"], grade_result=meta["grade_result"],
            current_question=redacted_q, provider=result.provider, model=result.model,
            provenance=meta["provenance"], created_at=now,
        )  # fmt: skip
        await uow.answer(claim, 200, stored.model_dump(mode="json"))
        await _learning_events(uow, sess, result, service, began)
    out = stored.model_copy(
        update={
            "reply": result.reply,
            "current_question": QuestionOut.model_validate(result.current_question.model_dump())
            if result.current_question
            else None,
        }
    )
    return out


async def _learning_events(
    uow: UnitOfWork, sess: TutoringSession, result: TurnResult, service: Readloom, began: str
) -> None:
    s, graded = uow.session, result.grade_result
    await experiments.record_turn_outcomes(
        s, sess.tenant_id, sess.student_id, session_id=sess.id,
        arms=dict(result.provenance.get("experiments") or {}),
        correct=graded.correct if graded else None, mastery_gain=result.mastery_gain,
        move=result.move, cost_usd=float(result.provenance.get("cost_usd") or 0.0),
    )  # fmt: skip
    if graded is not None:
        await uow.statement(
            student_id=sess.student_id, verb="answered",
            object_kind="skill", object_id=graded.skill, registration=sess.id,
            result={"success": graded.correct, "score": {"scaled": round(graded.score, 4)}},
        )  # fmt: skip
    else:
        await uow.statement(
            student_id=sess.student_id, verb="interacted",
            object_kind="passage", object_id=sess.passage_id or "unknown", registration=sess.id,
        )  # fmt: skip
    await _alert_events(uow, sess, result, service, began)


async def _alert_events(
    uow: UnitOfWork, sess: TutoringSession, result: TurnResult, service: Readloom, began: str
) -> None:
    """One ``alert.created`` per alert this turn queued or bumped (a safety block's, an
    intervention's), in the turn's transaction; none when it queued none (a block below
    the alert severities). Each starts its time-to-insight clock."""
    audit = service.services.guards.audit
    raised = await anyio.to_thread.run_sync(
        lambda: audit.queued_since(sess.tenant_id, sess.id, began)
    )
    intervention = result.intervention
    for alert in raised:
        alert_id = str(alert.id)  # as the alerts API names it
        failing = (
            intervention is not None
            and intervention.kind == "teacher_alert"
            and alert.kind == intervention.reason
        )
        await analytics.record_alert(
            uow.session, tenant=sess.tenant_id, session_id=sess.id, student_id=sess.student_id,
            alert_id=alert_id, kind=alert.kind, raised_at=datetime.fromisoformat(alert.created_at),
            failed_run=failing,
        )  # fmt: skip
        await uow.event(
            "alert.created", student_id=sess.student_id,
            data={"student_id": sess.student_id, "session_id": sess.id,
                  "kind": "teacher_alert" if failing else "safety",
                  "alert_kind": alert.kind, "alert_id": alert_id,
                  "severity": alert.severity, "status": alert.status,
                  "repeats": alert.repeats},
        )  # fmt: skip


async def sse_events(
    rt: Runtime,
    service: Readloom,
    principal: Principal,
    sess: TutoringSession,
    text: str,
    claim: Claim | None,
) -> AsyncIterator[dict[str, Any]]:
    """SSE: ``token`` events of the approved reply, then ``done`` with the full answer
    (sent only after the message is durably recorded)."""
    import json

    from readloom.errors import ReadloomError

    tokens, began = 0, audit_now()
    try:
        async with session_lock(sess.id):
            async for ev in service.stream_turn(**await _turn_kwargs(rt, sess, text)):
                if ev.get("type") == "token":
                    tokens += 1
                    yield {"event": "token", "data": json.dumps({"text": ev.get("text", "")})}
                elif ev.get("type") == "done":
                    result = TurnResult.model_validate(ev["result"])
                    out = await record_turn(rt, service, sess, claim, result, began=began)
                    if tokens == 0:  # a provider that does not stream: send it whole
                        for chunk in chunk_words(out.reply):
                            yield {"event": "token", "data": json.dumps({"text": chunk})}
                    done = for_viewer(out.model_dump(mode="json"), principal.role)
                    yield {"event": "done", "data": json.dumps(done)}
    except ReadloomError as exc:
        with anyio.CancelScope(shield=True):
            await idempotency.release(rt, claim)
        body = problem_body(exc.status, exc.message, code=exc.code)
        yield {"event": "error", "data": json.dumps(body)}
    except BaseException:
        with anyio.CancelScope(shield=True):
            await idempotency.release(rt, claim)
        raise
    finally:  # the answer is committed (or its claim forgotten): free the key's lease
        with anyio.CancelScope(shield=True):
            await idempotency.settle(rt, claim)


def for_viewer(body: dict[str, Any], role: str) -> dict[str, Any]:
    """A student sees the question, never its answer or the evidence that gives it away."""
    q = body.get("current_question")
    if role != "student" or not q:
        return body
    return body | {"current_question": q | {"answer": None, "evidence": None}}


async def replay_events(body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """A stored answer, replayed as a stream."""
    import json

    for chunk in chunk_words(body.get("reply", "")):
        yield {"event": "token", "data": json.dumps({"text": chunk})}
    yield {"event": "done", "data": json.dumps(body)}


def chunk_words(text: str, words: int = 3) -> list[str]:
    parts = text.split(" ")
    return [
        (" " if i else "") + " ".join(parts[i : i + words]) for i in range(0, len(parts), words)
    ]
