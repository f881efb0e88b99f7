"""Append-only audit log of redactions, blocks and alerts, and the teachers' alert queue.

Rows carry who (tenant, role, a pseudonymous student id), when, which guard and rule, the
entity *types* and a severity, never the text or the values. The tables live in the one
database (``storage.models_stores``); triggers there (SQLite and Postgres) refuse UPDATE,
TRUNCATE and DELETE on the log, except the one sanctioned path, ``erase_sessions`` (FERPA
deletion): inside one transaction it grants the sessions in ``audit_erasure_grants`` (the
only rows the delete triggers let go), deletes, withdraws the grants, and records that an
erasure happened under a random id, so no id of the erased student remains. Alerts are
rate-limited per session (a repeat within the window bumps a counter instead of adding a
row), and low-confidence alerts go to a review queue.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import case, delete, insert, select, union, update
from sqlalchemy.engine import Connection

from readloom.guardrails.base import Severity
from readloom.guardrails.keys import load_key
from readloom.guardrails.vault import pseudonymous_id
from readloom.settings import Settings
from readloom.storage.models_stores import AlertRow, AuditErasureGrant, AuditEventRow
from readloom.storage.stores import store_db

AlertStatus = Literal["open", "review", "acknowledged"]
REVIEW_ONLY = ("grading_disagreement",)  # kinds for the review queue, never a teacher alert
_CODE = re.compile(r"^[\w.:@/+=-]{1,200}$")  # ids and codes: no spaces, so no sentences
_ACTOR = re.compile(r"^stu_[0-9a-f]{16}$")
_ENTITY = re.compile(r"^[A-Z][A-Z0-9_]{0,40}$")
_EV = AuditEventRow.__table__
_AL = AlertRow.__table__
_GRANT = AuditErasureGrant.__table__
ERASURE_KIND = "ferpa_erasure"


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: str
    tenant: str
    role: str
    actor: str
    session: str
    kind: str
    guard: str
    rule: str | None
    entities: tuple[str, ...]
    severity: str | None


@dataclass(frozen=True)
class Alert:
    id: int
    created_at: str
    updated_at: str
    tenant: str
    session: str
    actor: str
    severity: Severity
    kind: str
    entities: tuple[str, ...]
    confidence: float
    status: AlertStatus
    repeats: int
    acknowledged_by: str | None
    acknowledged_at: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


now = _now  # the stamp ``queued_since`` compares with


def _code(value: str | None, field: str) -> str | None:
    """Only short machine codes get in: a stray sentence of student text is refused."""
    if value is None:
        return None
    if not _CODE.match(value):
        raise ValueError(f"audit {field} must be a short code, got {len(value)} chars")
    return value


def _entities(entities: tuple[str, ...] | list[str]) -> str:
    for e in entities:
        if not _ENTITY.match(e):
            raise ValueError("audit entities must be entity type names (e.g. PERSON)")
    return json.dumps(sorted(set(entities)))


class AuditLog:
    """``record`` events, ``queue_alert`` for teachers, ``alerts`` and ``acknowledge``."""

    def __init__(
        self,
        settings: Settings,
        *,
        path: Path | None = None,
        alert_window_s: float = 15 * 60,
        review_below: float = 0.6,
    ):
        settings.ensure_home()
        self._key = load_key(settings)
        self._db = store_db(path if path is not None else settings)
        self.path = self._db.path
        self.alert_window = timedelta(seconds=alert_window_s)
        self.review_below = review_below

    def actor(self, student_id: str) -> str:
        """The pseudonymous id the log uses for a student."""
        return pseudonymous_id(self._key, "stu", student_id)

    # --- the log ---------------------------------------------------------------------

    def record(
        self,
        kind: str,
        *,
        tenant: str,
        role: str,
        session_id: str,
        guard: str,
        student_id: str | None = None,
        actor: str | None = None,
        rule: str | None = None,
        entities: tuple[str, ...] | list[str] = (),
        severity: str | None = None,
    ) -> int:
        """Append one event. Pass the raw ``student_id`` (pseudonymised here) or an ``actor``
        id that is already pseudonymous."""
        if actor is None:
            actor = self.actor(student_id or "anonymous")
        elif not _ACTOR.match(actor):
            raise ValueError("audit actor must be a pseudonymous id (stu_...)")
        row = {
            "at": _now(), "tenant": _code(tenant, "tenant"), "role": _code(role, "role"),
            "actor": actor, "session": _code(session_id, "session"), "kind": _code(kind, "kind"),
            "guard": _code(guard, "guard"), "rule": _code(rule, "rule"),
            "entities": _entities(entities), "severity": _code(severity, "severity"),
        }  # fmt: skip
        with self._db.write() as conn:
            return _insert_event(conn, row)

    # --- erasure (FERPA) --------------------------------------------------------------

    def erase_sessions(
        self,
        session_ids: Iterable[str],
        *,
        tenant: str,
        role: str = "partner",
        student_id: str | None = None,
        conn: Connection | None = None,
    ) -> dict[str, int]:
        """Delete a tenant's events and alerts of these sessions (and, given the
        ``student_id`` the rows were recorded under, every row of that student's actor id)
        in one transaction (the caller's ``conn`` if given, so an erasure spanning stores
        commits once), and record a ``ferpa_erasure`` event under a random session and the
        anonymous actor, with no count and no id of the student.
        Returns ``{"audit_events": n, "alerts": m}``."""
        sessions = sorted({str(_code(s, "session")) for s in session_ids})
        actor = self.actor(student_id) if student_id is not None else None
        marker = {
            "at": _now(), "tenant": _code(tenant, "tenant"), "role": _code(role, "role"),
            "actor": self.actor("anonymous"), "session": f"erasure-{uuid.uuid4().hex}",
            "kind": ERASURE_KIND, "guard": "audit", "rule": "student_records",
            "entities": _entities(()), "severity": None,
        }  # fmt: skip
        if conn is not None:
            counts = _erase(conn, tenant, sessions, actor)
            _insert_event(conn, marker)
            return counts
        with self._db.write() as own:
            counts = _erase(own, tenant, sessions, actor)
            _insert_event(own, marker)
        return counts

    def events(self, *, session_id: str | None = None, limit: int = 1000) -> list[AuditEvent]:
        stmt = select(_EV)
        if session_id is not None:
            stmt = stmt.where(_EV.c.session == session_id)
        with self._db.read() as conn:
            rows = conn.execute(stmt.order_by(_EV.c.id).limit(limit)).all()
        return [AuditEvent(*r[:9], tuple(json.loads(r[9])), r[10]) for r in rows]

    # --- alerts ----------------------------------------------------------------------

    def queue_alert(
        self,
        *,
        tenant: str,
        session_id: str,
        student_id: str,
        severity: Severity,
        kind: str,
        entities: tuple[str, ...] | list[str] = (),
        confidence: float = 1.0,
    ) -> Alert:
        """Queue an alert for the tenant's teachers, or bump the open one it repeats."""
        actor = self.actor(student_id)
        status: AlertStatus = "review" if confidence < self.review_below else "open"
        now = datetime.now(UTC)
        since = (now - self.alert_window).isoformat(timespec="milliseconds")
        kind = str(_code(kind, "kind"))
        with self._db.write() as conn:
            found = conn.execute(
                select(_AL.c.id)
                .where(
                    _AL.c.tenant == tenant, _AL.c.session == session_id, _AL.c.kind == kind,
                    _AL.c.severity == severity, _AL.c.status.in_(("open", "review")),
                    _AL.c.created_at >= since,
                )
                .order_by(_AL.c.id.desc())
                .limit(1)
                .with_for_update()
            ).scalar()  # fmt: skip
            if found is not None:
                alert_id = int(found)
                conn.execute(
                    update(_AL)
                    .where(_AL.c.id == alert_id)
                    .values(repeats=_AL.c.repeats + 1, updated_at=_now())
                )
                event = "alert_repeat"
            else:
                stamp = now.isoformat(timespec="milliseconds")
                alert_id = int(
                    conn.execute(
                        insert(_AL).values(
                            created_at=stamp, updated_at=stamp, tenant=_code(tenant, "tenant"),
                            session=_code(session_id, "session"), actor=actor,
                            severity=severity, kind=kind, entities=_entities(entities),
                            confidence=float(confidence), status=status, repeats=0,
                        )
                    ).inserted_primary_key[0]
                )  # fmt: skip
                event = "alert"
            _insert_event(
                conn,
                {
                    "at": _now(), "tenant": tenant, "role": "student", "actor": actor,
                    "session": session_id, "kind": event, "guard": "alerts", "rule": kind,
                    "entities": _entities(entities), "severity": severity,
                },
            )  # fmt: skip
            row = conn.execute(select(_AL).where(_AL.c.id == alert_id)).one()
        return _alert(row)

    def get_alert(self, alert_id: int) -> Alert:
        with self._db.read() as conn:
            row = conn.execute(select(_AL).where(_AL.c.id == alert_id)).first()
        if row is None:
            raise KeyError(alert_id)
        return _alert(row)

    def alerts(
        self,
        tenant: str,
        *,
        status: AlertStatus | None = "open",
        limit: int = 100,
        sessions: Iterable[str] | None = None,
    ) -> list[Alert]:
        """A tenant's alerts, most severe first, then newest (``sessions``: only these)."""
        rank = case(
            (_AL.c.severity == "critical", 4),
            (_AL.c.severity == "high", 3),
            (_AL.c.severity == "medium", 2),
            else_=1,
        )
        stmt = select(_AL).where(_AL.c.tenant == tenant)
        if status is not None:
            stmt = stmt.where(_AL.c.status == status)
        if sessions is not None:
            stmt = stmt.where(_AL.c.session.in_(sorted(set(sessions))))
        stmt = stmt.order_by(rank.desc(), _AL.c.id.desc()).limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        return [_alert(r) for r in rows]

    def queued_since(self, tenant: str, session_id: str, since: str) -> list[Alert]:
        """The alerts of one session queued or bumped at or after ``since`` (an ``now()``
        stamp taken before a turn): the ones that turn raised, oldest first. Review items
        (``REVIEW_ONLY``) and acknowledged alerts are not among them."""
        stmt = (
            select(_AL)
            .where(
                _AL.c.tenant == tenant, _AL.c.session == session_id, _AL.c.updated_at >= since,
                _AL.c.status != "acknowledged", _AL.c.kind.not_in(REVIEW_ONLY),
            )
            .order_by(_AL.c.id)
        )  # fmt: skip
        with self._db.read() as conn:
            return [_alert(r) for r in conn.execute(stmt).all()]

    def acknowledge(self, alert_id: int, *, by: str = "teacher", role: str = "teacher") -> Alert:
        """Mark an alert handled (idempotent); ``by`` is a code or pseudonymous id."""
        with self._db.write() as conn:
            changed = conn.execute(
                update(_AL)
                .where(_AL.c.id == alert_id, _AL.c.status != "acknowledged")
                .values(
                    status="acknowledged", acknowledged_by=_code(by, "by"), updated_at=_now(),
                    acknowledged_at=_now(),
                )
            ).rowcount  # fmt: skip
            row = conn.execute(select(_AL).where(_AL.c.id == alert_id)).first()
            if row is None:
                raise KeyError(alert_id)
            alert = _alert(row)
            if changed:
                _insert_event(
                    conn,
                    {
                        "at": _now(), "tenant": alert.tenant, "role": _code(role, "role"),
                        "actor": alert.actor, "session": alert.session, "kind": "alert_ack",
                        "guard": "alerts", "rule": alert.kind, "entities": _entities(()),
                        "severity": alert.severity,
                    },
                )  # fmt: skip
        return alert

    def close(self) -> None:
        """The pool is shared by every store of the process (``storage.stores``)."""


def _insert_event(conn: Connection, row: dict[str, Any]) -> int:
    return int(conn.execute(insert(_EV).values(**row)).inserted_primary_key[0])


def _erase(conn: Connection, tenant: str, sessions: list[str], actor: str | None) -> dict[str, int]:
    """Every row of the listed sessions goes; of the other sessions the actor appears in,
    only the actor's rows. The grants let the triggers pass and are gone at commit."""
    extra: set[str] = set()
    if actor is not None:
        q = union(
            select(_EV.c.session).where(_EV.c.tenant == tenant, _EV.c.actor == actor),
            select(_AL.c.session).where(_AL.c.tenant == tenant, _AL.c.actor == actor),
        )
        extra = {r[0] for r in conn.execute(q)} - set(sessions)
    granted = sorted(set(sessions) | extra)
    if granted:
        conn.execute(insert(_GRANT), [{"session": s} for s in granted])
    counts = {}
    for name, table in (("audit_events", _EV), ("alerts", _AL)):
        n = 0
        if sessions:
            n += conn.execute(
                delete(table).where(table.c.tenant == tenant, table.c.session.in_(sessions))
            ).rowcount
        if actor is not None:
            n += conn.execute(
                delete(table).where(table.c.tenant == tenant, table.c.actor == actor)
            ).rowcount
        counts[name] = n
    if granted:
        conn.execute(delete(_GRANT).where(_GRANT.c.session.in_(granted)))
    return counts


def _alert(row: Any) -> Alert:
    r = tuple(row)
    return Alert(*r[:7], r[7], tuple(json.loads(r[8])), float(r[9]), *r[10:])
