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
