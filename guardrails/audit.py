"""Append-only audit log of redactions, blocks and alerts, and the teachers' alert queue.

Rows carry who (tenant, role, a pseudonymous student id), when, which guard and rule, the
entity *types* and a severity, never the text or the values. SQLite triggers refuse UPDATE
and DELETE on the log, except the one sanctioned path, ``erase_sessions`` (FERPA deletion):
it registers the sessions in ``erasures`` (the only rows the delete triggers let go) and
records the erasure itself. Alerts are rate-limited per session (a repeat within the window
bumps a counter instead of adding a row), and low-confidence alerts go to a review queue.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from readloom.guardrails.base import Severity
from readloom.guardrails.keys import load_key
from readloom.guardrails.vault import pseudonymous_id
from readloom.settings import Settings

AUDIT_FILE = "audit.sqlite"
AlertStatus = Literal["open", "review", "acknowledged"]
_CODE = re.compile(r"^[\w.:@/+=-]{1,200}$")  # ids and codes: no spaces, so no sentences
_ACTOR = re.compile(r"^stu_[0-9a-f]{16}$")
_ENTITY = re.compile(r"^[A-Z][A-Z0-9_]{0,40}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    tenant    TEXT NOT NULL,
    role      TEXT NOT NULL,
    actor     TEXT NOT NULL,          -- pseudonymous student id (stu_...), never the id
    session   TEXT NOT NULL,
    kind      TEXT NOT NULL,          -- redaction | block | alert | alert_ack | ...
    guard     TEXT NOT NULL,
    rule      TEXT,
    entities  TEXT NOT NULL,          -- JSON list of entity types
    severity  TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE INDEX IF NOT EXISTS audit_events_session ON audit_events (session);

CREATE TABLE IF NOT EXISTS alerts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    session       TEXT NOT NULL,
    actor         TEXT NOT NULL,
    severity      TEXT NOT NULL CHECK (severity IN ('low','medium','high','critical')),
    kind          TEXT NOT NULL,          -- self_harm, abuse, repeated_frustration...
    entities      TEXT NOT NULL,
    confidence    REAL NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open','review','acknowledged')),
    repeats       INTEGER NOT NULL DEFAULT 0,
    acknowledged_by TEXT,
    acknowledged_at TEXT
);
CREATE INDEX IF NOT EXISTS alerts_queue ON alerts (tenant, status, created_at);
CREATE INDEX IF NOT EXISTS alerts_session ON alerts (session);
CREATE TRIGGER IF NOT EXISTS alerts_fixed_facts BEFORE UPDATE ON alerts
WHEN NEW.tenant IS NOT OLD.tenant OR NEW.session IS NOT OLD.session
  OR NEW.actor IS NOT OLD.actor OR NEW.severity IS NOT OLD.severity
  OR NEW.kind IS NOT OLD.kind OR NEW.entities IS NOT OLD.entities
  OR NEW.created_at IS NOT OLD.created_at OR NEW.confidence IS NOT OLD.confidence
BEGIN SELECT RAISE(ABORT, 'an alert''s facts cannot change'); END;

-- sessions erased on request (FERPA): opaque random ids, the register itself is append-only
CREATE TABLE IF NOT EXISTS erasures (
    session   TEXT PRIMARY KEY,
    at        TEXT NOT NULL
);
"""

# Dropped and recreated at every start-up, in one transaction, so a database made before
# the erasure register gets the register-aware delete triggers (and never none at all).
_DELETE_TRIGGERS = """
BEGIN IMMEDIATE;
DROP TRIGGER IF EXISTS audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM erasures WHERE session = OLD.session)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
DROP TRIGGER IF EXISTS alerts_no_delete;
CREATE TRIGGER alerts_no_delete BEFORE DELETE ON alerts
WHEN NOT EXISTS (SELECT 1 FROM erasures WHERE session = OLD.session)
BEGIN SELECT RAISE(ABORT, 'alerts are kept'); END;
DROP TRIGGER IF EXISTS erasures_no_update;
CREATE TRIGGER erasures_no_update BEFORE UPDATE ON erasures
BEGIN SELECT RAISE(ABORT, 'the erasure register is append-only'); END;
DROP TRIGGER IF EXISTS erasures_no_delete;
CREATE TRIGGER erasures_no_delete BEFORE DELETE ON erasures
BEGIN SELECT RAISE(ABORT, 'the erasure register is append-only'); END;
COMMIT;
"""
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
        home = settings.ensure_home()
        self._key = load_key(settings)
        self.path = path or home / AUDIT_FILE
        self.alert_window = timedelta(seconds=alert_window_s)
        self.review_below = review_below
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._upgrade_triggers()

    def _upgrade_triggers(self) -> None:
        """Swap in the register-aware delete triggers, atomically (idempotent)."""
        try:
            self._db.executescript(_DELETE_TRIGGERS)
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

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
        row = (
            _now(),
            _code(tenant, "tenant"),
            _code(role, "role"),
            actor,
            _code(session_id, "session"),
            _code(kind, "kind"),
            _code(guard, "guard"),
            _code(rule, "rule"),
            _entities(entities),
            _code(severity, "severity"),
        )
        with self._lock:
            return self._insert_event(row)

    def _insert_event(self, row: tuple) -> int:
        """Caller holds the lock."""
        cur = self._db.execute(
            "INSERT INTO audit_events (at, tenant, role, actor, session, kind, guard, rule,"
            " entities, severity) VALUES (?,?,?,?,?,?,?,?,?,?)",
            row,
        )
        return int(cur.lastrowid)

    # --- erasure (FERPA) --------------------------------------------------------------

    def erase_sessions(
        self,
        session_ids: Iterable[str],
        *,
        tenant: str,
        role: str = "partner",
        student_id: str | None = None,
    ) -> dict[str, int]:
        """Delete a tenant's events and alerts of these sessions (and, given the
        ``student_id`` the rows were recorded under, every row of that student's actor id)
        in one transaction: the sessions go into the erasure register first, so the delete
        triggers let exactly those rows go, and a ``ferpa_erasure`` event records that an
        erasure happened, under a random session and the anonymous actor, with no count
        and no id of the student. Returns ``{"audit_events": n, "alerts": m}``."""
        sessions = sorted({str(_code(s, "session")) for s in session_ids})
        actor = self.actor(student_id) if student_id is not None else None
        marker = (
            _now(), _code(tenant, "tenant"), _code(role, "role"), self.actor("anonymous"),
            f"erasure-{uuid.uuid4().hex}", ERASURE_KIND, "audit", "student_records", _entities(()),
            None,
        )  # fmt: skip
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                counts = self._erase(tenant, sessions, actor)
                self._insert_event(marker)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return counts

    def _erase(self, tenant: str, sessions: list[str], actor: str | None) -> dict[str, int]:
        """Caller holds the lock, in a transaction. Every row of the listed sessions goes;
        of the other sessions the actor appears in, only the actor's rows go (the sessions
        are registered so the triggers let them)."""
        extra = self._actor_sessions(tenant, actor) - set(sessions) if actor else set()
        self._db.executemany(
            "INSERT OR IGNORE INTO erasures (session, at) VALUES (?, ?)",
            [(s, _now()) for s in [*sessions, *sorted(extra)]],
        )
        counts = {}
        for table in ("audit_events", "alerts"):  # fixed names: the only interpolation
            n = self._db.executemany(
                f"DELETE FROM {table} WHERE tenant = ? AND session = ?",
                [(tenant, s) for s in sessions],
            ).rowcount
            if actor is not None:
                n += self._db.execute(
                    f"DELETE FROM {table} WHERE tenant = ? AND actor = ?",
                    (tenant, actor),
                ).rowcount
            counts[table] = n
        return counts

    def _actor_sessions(self, tenant: str, actor: str) -> set[str]:
        rows = self._db.execute(
            "SELECT session FROM audit_events WHERE tenant = ? AND actor = ?"
            " UNION SELECT session FROM alerts WHERE tenant = ? AND actor = ?",
            (tenant, actor, tenant, actor),
        ).fetchall()
        return {r[0] for r in rows}

    def events(self, *, session_id: str | None = None, limit: int = 1000) -> list[AuditEvent]:
        sql = "SELECT * FROM audit_events"
        args: tuple = ()
        if session_id is not None:
            sql += " WHERE session = ?"
            args = (session_id,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id LIMIT ?", (*args, limit)).fetchall()
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
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT id FROM alerts WHERE tenant = ? AND session = ? AND kind = ?"
                    " AND severity = ? AND status IN ('open','review') AND created_at >= ?"
                    " ORDER BY id DESC LIMIT 1",
                    (tenant, session_id, _code(kind, "kind"), severity, since),
                ).fetchone()
                if row:
                    alert_id = row[0]
                    self._db.execute(
                        "UPDATE alerts SET repeats = repeats + 1, updated_at = ? WHERE id = ?",
                        (_now(), alert_id),
                    )
                    event = "alert_repeat"
                else:
                    stamp = now.isoformat(timespec="milliseconds")
                    cur = self._db.execute(
                        "INSERT INTO alerts (created_at, updated_at, tenant, session, actor,"
                        " severity, kind, entities, confidence, status)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (stamp, stamp, _code(tenant, "tenant"), _code(session_id, "session"),
                         actor, severity, kind, _entities(entities), float(confidence), status),
                    )  # fmt: skip
                    alert_id = int(cur.lastrowid)
                    event = "alert"
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self.record(
            event,
            tenant=tenant,
            role="student",
            student_id=student_id,
            session_id=session_id,
            guard="alerts",
            rule=kind,
            entities=entities,
            severity=severity,
        )
        return self.get_alert(alert_id)

    def get_alert(self, alert_id: int) -> Alert:
        with self._lock:
            row = self._db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise KeyError(alert_id)
        return _alert(row)

    def alerts(
        self, tenant: str, *, status: AlertStatus | None = "open", limit: int = 100
    ) -> list[Alert]:
        """A tenant's alerts, most severe first, then newest."""
        sql = "SELECT * FROM alerts WHERE tenant = ?"
        args: list = [tenant]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        sql += (
            " ORDER BY CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3"
            " WHEN 'medium' THEN 2 ELSE 1 END DESC, id DESC LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_alert(r) for r in rows]

    def acknowledge(self, alert_id: int, *, by: str = "teacher", role: str = "teacher") -> Alert:
        """Mark an alert handled (idempotent); ``by`` is a code or pseudonymous id."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?, updated_at = ?,"
                " acknowledged_at = ? WHERE id = ? AND status != 'acknowledged'",
                (_code(by, "by"), _now(), _now(), alert_id),
            )
        alert = self.get_alert(alert_id)  # KeyError if there is no such alert
        if cur.rowcount:
            self.record(
                "alert_ack",
                tenant=alert.tenant,
                role=role,
                actor=alert.actor,
                session_id=alert.session,
                guard="alerts",
                rule=alert.kind,
                severity=alert.severity,
            )
        return alert

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _alert(row: tuple) -> Alert:
    return Alert(*row[:7], row[7], tuple(json.loads(row[8])), float(row[9]), *row[10:])
