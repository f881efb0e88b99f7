"""The audit log is append-only and holds no raw values; alerts are rate-limited."""

from __future__ import annotations

import sqlite3

import pytest

WHO = {"tenant": "t1", "role": "student", "student_id": "kid-42", "session_id": "s1"}


def test_audit_log_refuses_update_and_delete(audit):
    audit.record("redaction", guard="pii", entities=("PERSON",), **WHO)
    db = sqlite3.connect(audit.path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit_events SET rule = 'x'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit_events")
    finally:
        db.close()
    assert len(audit.events()) == 1


def test_alert_facts_cannot_change_or_vanish(audit):
    alert = audit.queue_alert(severity="critical", kind="self_harm", entities=("PERSON",),
                              tenant="t1", session_id="s1", student_id="kid-42")  # fmt: skip
    db = sqlite3.connect(audit.path)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            db.execute("UPDATE alerts SET severity = 'low' WHERE id = ?", (alert.id,))
        with pytest.raises(sqlite3.DatabaseError):
            db.execute("DELETE FROM alerts")
    finally:
        db.close()


@pytest.mark.parametrize(
    "field",
    [{"rule": "my name is Maria"}, {"entities": ("Maria",)}, {"guard": "pii guard text"}],
)
def test_record_refuses_free_text(audit, field):
    with pytest.raises(ValueError):
        audit.record("block", **({"guard": "pii"} | field), **WHO)


def test_student_ids_are_pseudonymous(audit):
    audit.record("block", guard="safety", rule="self_harm", **WHO)
    (event,) = audit.events()
    assert event.actor.startswith("stu_") and "kid-42" not in event.actor
    assert event.actor == audit.actor("kid-42")
    assert b"kid-42" not in audit.path.read_bytes()


def test_repeated_alerts_are_merged_per_session(audit):
    args = {"tenant": "t1", "student_id": "kid-42", "severity": "medium", "kind": "bullying"}
    first = audit.queue_alert(session_id="s1", **args)
    again = audit.queue_alert(session_id="s1", **args)
    other = audit.queue_alert(session_id="s2", **args)
    assert again.id == first.id and again.repeats == 1
    assert other.id != first.id
    assert [a.id for a in audit.alerts("t1")] == [other.id, first.id]
    kinds = [e.kind for e in audit.events()]
    assert kinds.count("alert") == 2 and kinds.count("alert_repeat") == 1


def test_low_confidence_alerts_go_to_review(audit):
    audit.queue_alert(tenant="t1", session_id="s1", student_id="k", severity="high",
                      kind="harm_to_others", confidence=0.55)  # fmt: skip
    assert audit.alerts("t1") == []
    (queued,) = audit.alerts("t1", status="review")
    assert queued.kind == "harm_to_others"


def test_alerts_sorted_by_severity_and_scoped_by_tenant(audit):
    for severity, kind in [("medium", "bullying"), ("critical", "abuse"), ("high", "crisis")]:
        audit.queue_alert(
            tenant="t1", session_id=kind, student_id="k", severity=severity, kind=kind
        )
    audit.queue_alert(
        tenant="t2", session_id="x", student_id="k", severity="critical", kind="abuse"
    )
    assert [a.severity for a in audit.alerts("t1")] == ["critical", "high", "medium"]
    assert len(audit.alerts("t2")) == 1


def test_acknowledge_is_idempotent(audit):
    alert = audit.queue_alert(tenant="t1", session_id="s1", student_id="k", severity="critical",
                              kind="self_harm")  # fmt: skip
    done = audit.acknowledge(alert.id, by="teacher-9")
    again = audit.acknowledge(alert.id, by="teacher-9")
    assert done.status == again.status == "acknowledged"
    assert done.acknowledged_at == again.acknowledged_at is not None
    assert audit.alerts("t1") == []
    assert [e.kind for e in audit.events()].count("alert_ack") == 1
    with pytest.raises(KeyError):
        audit.acknowledge(9999)


# --- FERPA erasure: the one sanctioned delete ----------------------------------------

KID, OTHER = "t1/kid-42", "t1/kid-7"


def _fill(audit) -> None:
    """kid-42: sessions s1, s2 and one event in s9, shared with kid-7; kid-7: s3 and s9;
    another tenant reuses the session id s1."""
    for session, student in [("s1", KID), ("s2", KID), ("s3", OTHER), ("s9", OTHER)]:
        audit.record("redaction", guard="pii", entities=("PERSON",), tenant="t1",
                     role="student", student_id=student, session_id=session)  # fmt: skip
        audit.queue_alert(tenant="t1", session_id=session, student_id=student,
                          severity="critical", kind="self_harm")  # fmt: skip
    audit.record("block", guard="safety", rule="bullying", tenant="t1", role="student",
                 student_id=KID, session_id="s9")  # fmt: skip
    audit.record("block", guard="safety", tenant="t2", role="student", student_id="t2/kid-42",
                 session_id="s1")  # fmt: skip


def _rows(audit, table: str) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(audit.path)
    try:
        return db.execute(f"SELECT tenant, session, actor FROM {table} ORDER BY id").fetchall()
    finally:
        db.close()


def test_erase_sessions_removes_exactly_that_students_rows(audit):
    _fill(audit)
    kid, other = audit.actor(KID), audit.actor(OTHER)
    events_before = _rows(audit, "audit_events")

    counts = audit.erase_sessions(["s1", "s2"], tenant="t1", role="partner", student_id=KID)

    # s1, s2: redaction + alert event + alert row each; s9: kid-42's block event
    assert counts == {"audit_events": 5, "alerts": 2}
    assert _rows(audit, "alerts") == [("t1", "s3", other), ("t1", "s9", other)]
    kept = [r for r in _rows(audit, "audit_events") if r[1] in {"s1", "s2", "s3", "s9"}]
    assert kept == [r for r in events_before if r[2] != kid]
    assert ("t2", "s1", audit.actor("t2/kid-42")) in kept  # same session id, other tenant
    assert [a.session for a in audit.alerts("t1")] == ["s9", "s3"]


def test_erasure_is_recorded_without_the_student(audit):
    _fill(audit)
    audit.erase_sessions(["s1", "s2"], tenant="t1", role="admin", student_id=KID)
    (event,) = [e for e in audit.events() if e.kind == "ferpa_erasure"]
    assert (event.tenant, event.role, event.guard) == ("t1", "admin", "audit")
    assert event.entities == () and event.severity is None
    assert event.actor == audit.actor("anonymous") != audit.actor(KID)
    assert event.session.startswith("erasure-") and event.session not in {"s1", "s2", "s9"}
    db = sqlite3.connect(audit.path)
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert "kid-42" not in dump and audit.actor(KID) not in dump
    # no session id of the erased student outlives the erasure (the grants are withdrawn)
    t1_lines = [line for line in dump.splitlines() if "'t1'" in line]
    assert [line for line in t1_lines if "'s1'" in line or "'s2'" in line] == []
    # the erasure is not itself erasable
    db = sqlite3.connect(audit.path)
    try:
        assert db.execute("SELECT count(*) FROM audit_erasure_grants").fetchone() == (0,)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit_events WHERE kind = 'ferpa_erasure'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit_events SET tenant = 't2' WHERE kind = 'ferpa_erasure'")
    finally:
        db.close()


def test_plain_deletes_still_abort_after_an_erasure(audit):
    _fill(audit)
    audit.erase_sessions(["s1"], tenant="t1")  # by session only: kid-42's s2 stays
    db = sqlite3.connect(audit.path)
    try:
        for sql in ("DELETE FROM audit_events", "DELETE FROM audit_events WHERE session = 's3'"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(sql)
        with pytest.raises(sqlite3.DatabaseError, match="alerts are kept"):
            db.execute("DELETE FROM alerts WHERE session = 's3'")
        with pytest.raises(sqlite3.DatabaseError, match="facts cannot change"):
            db.execute("UPDATE alerts SET severity = 'low' WHERE session = 's3'")
    finally:
        db.close()
    assert [a.session for a in audit.alerts("t1")] == ["s9", "s3", "s2"]


def test_a_failed_erasure_changes_nothing(audit, monkeypatch):
    _fill(audit)
    events, alerts = _rows(audit, "audit_events"), _rows(audit, "alerts")

    def broken(conn, row):
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr("readloom.guardrails.audit._insert_event", broken)
    with pytest.raises(sqlite3.OperationalError):
        audit.erase_sessions(["s1", "s2"], tenant="t1", student_id=KID)
    assert (_rows(audit, "audit_events"), _rows(audit, "alerts")) == (events, alerts)
    db = sqlite3.connect(audit.path)
    try:
        assert db.execute("SELECT count(*) FROM audit_erasure_grants").fetchone() == (0,)
    finally:
        db.close()
