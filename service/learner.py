"""The API's one seam onto the learner model (mastery, recommender, skill graph) and the
guardrails' stores (vault, alert queue). Blocking calls run in a worker thread.

Pseudonyms are the partner's, so they are unique only within a tenant: everything the
service keys by student (mastery, vault links, alerts) gets the tenant-qualified id
``"{tenant}/{student_id}"`` (neither part may contain ``/``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
from sqlalchemy import delete, select

from readloom.errors import NotFound
from readloom.service import Readloom
from readloom.service.views import AlertOut, RecommendationOut, SkillMastery
from readloom.storage.models import TutoringSession

MASTERED = 0.95


def qualified(tenant: str, student_id: str) -> str:
    return f"{tenant}/{student_id}"


def unqualified(student_key: str | None) -> str | None:
    return student_key.split("/", 1)[1] if student_key and "/" in student_key else student_key


def check_skill(service: Readloom, skill: str) -> None:
    """NotFound (404) for a skill the prerequisite graph does not know."""
    service.services.skills.get(skill)


async def provenance(service: Readloom) -> dict[str, Any]:
    """The mastery model version behind an estimate (``models`` as on every reply); the
    registry is a synchronous store, so it is read in a thread, never on the event loop."""
    from readloom.mlops.provenance import active_models

    models = await asyncio.to_thread(active_models, service.settings)
    return {"models": {"mastery": models["mastery"]}}


async def _estimates(service: Readloom, tenant: str, student_id: str) -> dict[str, float]:
    store = service.services.mastery
    return await anyio.to_thread.run_sync(store.get, qualified(tenant, student_id))


async def mastery(service: Readloom, tenant: str, student_id: str) -> list[SkillMastery]:
    estimates = await _estimates(service, tenant, student_id)
    store = service.services.mastery
    attempts: dict[str, int] = {}
    for event in await anyio.to_thread.run_sync(store.history, qualified(tenant, student_id)):
        attempts[event.skill] = attempts.get(event.skill, 0) + 1
    return [
        SkillMastery(
            skill=skill,
            p_mastery=float(p),
            attempts=attempts.get(skill, 0),
            mastered=float(p) >= MASTERED,
        )  # fmt: skip
        for skill, p in sorted(estimates.items())
    ]


async def record(
    service: Readloom, tenant: str, student_id: str, skill: str, correct: bool
) -> float:
    store = service.services.mastery
    key = qualified(tenant, student_id)
    return float(await anyio.to_thread.run_sync(store.record, key, skill, correct))


async def recommend(
    service: Readloom, tenant: str, student_id: str, *, grade: int, hidden: set[str]
) -> RecommendationOut:
    """The next skill and a passage to practise it on (``hidden``: other tenants' passages)."""
    from readloom.tools.recommender import POLICY_VERSION, Recommender

    estimates = await _estimates(service, tenant, student_id)
    store = service.services.store

    def passages(grade: int, topics: list[str]) -> list[Any]:
        return store.list(grade_min=max(1, grade - 1), grade_max=min(12, grade + 1))

    rec = Recommender(service.services.skills, passages)
    out = await anyio.to_thread.run_sync(
        lambda: rec.recommend(
            estimates, grade, exclude_passages=hidden, student_key=qualified(tenant, student_id)
        )
    )
    return RecommendationOut(
        student_id=student_id,
        provenance=(await provenance(service)) | {"policy": POLICY_VERSION},
        **out.model_dump(exclude={"matched_topics"}),
    )


async def forget(
    service: Readloom,
    tenant: str,
    student_id: str,
    session_ids: list[str],
    *,
    role: str = "partner",
) -> dict[str, int]:
    """FERPA: erase the student everywhere, in ONE transaction of the one database —
    their rows (sessions, messages, graded responses, xAPI statements, idempotency
    records, webhook deliveries, class memberships, the student), the checkpoints of
    their sessions, mastery, vault entries, alerts and audit events (the log keeps a
    ``ferpa_erasure`` event that names neither), and their name on usage rows (the
    calls stay in the tenant's totals for billing). Either all of it goes or none.
    ``role``: who asked."""
    return await anyio.to_thread.run_sync(
        lambda: _erase(service, tenant, student_id, session_ids, role)
    )


def _erase(
    service: Readloom, tenant: str, student_id: str, session_ids: list[str], role: str
) -> dict[str, int]:
    from readloom.storage.stores import store_db

    svc = service.services
    key = qualified(tenant, student_id)
    counts: dict[str, int] = {"sessions": len(session_ids)}
    with store_db(service.settings).write() as conn:
        for model, where in _student_rows(tenant, student_id, session_ids):
            res = conn.execute(delete(model).where(where))
            counts[model.__tablename__] = int(res.rowcount or 0)  # type: ignore[attr-defined]
        counts["checkpoints"] = _delete_checkpoints(conn, session_ids)
        counts["mastery_rows"] = svc.mastery.delete(key, conn=conn)
        vault = svc.guards.redactor.vault
        counts["vault_entries"] = sum(vault.forget_session(s, conn=conn) for s in session_ids)
        counts |= svc.guards.audit.erase_sessions(
            session_ids, tenant=tenant, role=role, student_id=key, conn=conn
        )
        counts["usage_rows_pseudonymised"] = svc.gate.ledger.forget_student(
            tenant, [key, student_id], conn=conn
        )
    return counts


def _student_rows(tenant: str, student_id: str, session_ids: list[str]) -> list[tuple[Any, Any]]:
    from readloom.service.analytics import erasure_targets
    from readloom.storage.models import (
        Classroom,
        ClassStudent,
        GradedResponse,
        IdempotencyRecord,
        Message,
        Student,
        WebhookDelivery,
        XapiStatement,
    )  # fmt: skip
    from readloom.storage.models_mlops import ExperimentOutcome

    return [
        (Message, Message.session_id.in_(session_ids)),
        (TutoringSession, TutoringSession.id.in_(session_ids)),
        (GradedResponse, (GradedResponse.tenant_id == tenant) & (GradedResponse.student_id == student_id)),
        (XapiStatement, (XapiStatement.tenant_id == tenant) & (XapiStatement.student_id == student_id)),
        (IdempotencyRecord, (IdempotencyRecord.tenant_id == tenant) & (IdempotencyRecord.student_id == student_id)),
        (WebhookDelivery, (WebhookDelivery.tenant_id == tenant) & (WebhookDelivery.student_id == student_id)),
        (ClassStudent, (ClassStudent.student_id == student_id)
         & ClassStudent.class_id.in_(select(Classroom.id).where(Classroom.tenant_id == tenant))),
        (Student, (Student.tenant_id == tenant) & (Student.id == student_id)),
        *erasure_targets(tenant, student_id),  # insights: alert clocks, family links
        # experiment outcomes name the student (and, per turn, the session)
        (ExperimentOutcome, ExperimentOutcome.student_id == qualified(tenant, student_id)),
    ]  # fmt: skip


# The LangGraph savers' tables (SQLite: checkpoints, writes; Postgres: checkpoints,
# checkpoint_blobs, checkpoint_writes), all keyed by thread_id = the session id.
_CHECKPOINT_TABLES = ("checkpoints", "writes", "checkpoint_blobs", "checkpoint_writes")


def _delete_checkpoints(conn: Any, session_ids: list[str]) -> int:
    from sqlalchemy import bindparam, inspect, text

    if not session_ids:
        return 0
    present = set(inspect(conn).get_table_names())
    n = 0
    for table in _CHECKPOINT_TABLES:
        if table in present:  # fixed names: the only interpolation
            stmt = text(f"DELETE FROM {table} WHERE thread_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            )
            res = conn.execute(stmt, {"ids": session_ids})
            if table == "checkpoints":
                n += int(res.rowcount or 0)
    return n


def _alert_out(alert: Any, student_id: str | None) -> AlertOut:
    return AlertOut(
        id=str(alert.id), student_id=student_id, session_id=alert.session, kind=alert.kind,
        severity=alert.severity, confidence=alert.confidence, repeats=alert.repeats,
        status=alert.status, created_at=alert.created_at,
        acknowledged_at=alert.acknowledged_at, acknowledged_by=alert.acknowledged_by,
    )  # fmt: skip


async def _owners(rt: Any, scope: Any, session_ids: list[str]) -> dict[str, str]:
    """session -> student, for the sessions among these that the caller may see."""
    if not session_ids:
        return {}
    stmt = scope.scoped(
        select(TutoringSession.id, TutoringSession.student_id).where(
            TutoringSession.id.in_(session_ids)
        ),
        TutoringSession.tenant_id,
        TutoringSession.student_id,
    )
    async with rt.db.reader() as s:
        return {sid: stu for sid, stu in (await s.execute(stmt)).all()}


async def alerts(
    service: Readloom, scope: Any, *, status: str | None, limit: int
) -> list[AlertOut]:
    """The tenant's alert queue, narrowed to the students the caller may see: one query
    joining the alerts to their sessions (they are tables of the one database)."""
    from sqlalchemy import case

    from readloom.guardrails.audit import _alert
    from readloom.storage.models_stores import AlertRow

    al = AlertRow.__table__
    rank = case(
        (al.c.severity == "critical", 4), (al.c.severity == "high", 3),
        (al.c.severity == "medium", 2), else_=1,
    )  # fmt: skip
    stmt = (
        select(*al.c, TutoringSession.student_id)
        .join(TutoringSession, TutoringSession.id == al.c.session)
        .where(al.c.tenant == scope.tenant)
    )
    if status is not None:
        stmt = stmt.where(al.c.status == status)
    stmt = scope.scoped(stmt, TutoringSession.tenant_id, TutoringSession.student_id)
    stmt = stmt.order_by(rank.desc(), al.c.id.desc()).limit(limit)
    async with scope.rt.db.reader() as s:
        rows = (await s.execute(stmt)).all()
    return [_alert_out(_alert(tuple(r)[:-1]), r[-1]) for r in rows]


async def acknowledge(rt: Any, service: Readloom, scope: Any, alert_id: str) -> AlertOut:
    audit = service.services.guards.audit
    if not (alert_id.isascii() and alert_id.isdigit() and int(alert_id) < 2**63):
        raise NotFound(f"no alert {alert_id[:40]!r}")  # an id no 64-bit column can hold
    try:
        alert = await anyio.to_thread.run_sync(audit.get_alert, int(alert_id))
    except (KeyError, ValueError, OverflowError):
        raise NotFound(f"no alert {alert_id!r}") from None
    owners = await _owners(rt, scope, [alert.session]) if alert.tenant == scope.tenant else {}
    if alert.session not in owners:
        raise NotFound(f"no alert {alert_id!r}")
    by = scope.principal.subject or scope.principal.role
    role = scope.principal.role
    alert = await anyio.to_thread.run_sync(lambda: audit.acknowledge(alert.id, by=by, role=role))
    return _alert_out(alert, owners[alert.session])


async def alerts_for_export(
    service: Readloom, tenant: str, session_ids: list[str]
) -> list[dict[str, Any]]:
    audit = service.services.guards.audit
    rows = await anyio.to_thread.run_sync(lambda: audit.alerts(tenant, status=None, limit=100_000))
    wanted = set(session_ids)
    return [_alert_out(a, None).model_dump(mode="json") for a in rows if a.session in wanted]
