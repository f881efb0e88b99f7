"""Tables of the insights area: alert timings (time to insight), passage assignments,
family-summary links and the analytics snapshots the teacher page falls back on.

Like every application table these hold pseudonymous ids and codes only, never text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from readloom.storage.models import Base, utcnow


class AlertTiming(Base):
    """When a student's trouble began, when the alert was raised and its notifications
    queued, and when a teacher first saw it (opened the alert or acknowledged it)."""

    __tablename__ = "alert_timings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    alert_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    student_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    trouble_began_at: Mapped[datetime] = mapped_column()  # first failed attempt of the run
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(default=None)  # webhook + badge queued
    seen_at: Mapped[datetime | None] = mapped_column(default=None)
    seen_how: Mapped[str | None] = mapped_column(String(16), default=None)  # opened | acknowledged
    __table_args__ = (
        UniqueConstraint("tenant_id", "alert_id"),
        Index("ix_alert_timings_tenant_student", "tenant_id", "student_id"),
    )


class ClassAssignment(Base):
    """A passage a teacher assigned to a class (engagement: completion of assignments)."""

    __tablename__ = "class_assignments"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    passage_id: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(128), default=None)
    __table_args__ = (UniqueConstraint("class_id", "passage_id"),)


class FamilyLink(Base):
    """A link a teacher shared with a student's family: the token is signed and carries
    its expiry; this row is what revocation and the audit of openings work on."""

    __tablename__ = "family_links"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    student_id: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_opened_at: Mapped[datetime | None] = mapped_column(default=None)
    __table_args__ = (Index("ix_family_links_tenant_student", "tenant_id", "student_id"),)


class InsightsSnapshot(Base):
    """The last computed insights of a class and date range, served with its age when
    a recomputation fails; ``watermark`` says which rows it was computed from."""

    __tablename__ = "insights_snapshots"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    watermark: Mapped[str] = mapped_column(String(200))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
