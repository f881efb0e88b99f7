"""Application tables: tenants, keys, rosters, tutoring records, jobs, webhooks, xAPI.

Only redacted text and pseudonymous ids are stored here; the pseudonym vault lives
elsewhere (guardrails). Ids are opaque strings so that they can be shown to partners.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite (which drops tzinfo) and Postgres alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    home_page: Mapped[str] = mapped_column(String(500))  # xAPI account homePage
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(128))  # pseudonymous id of the holder
    prefix: Mapped[str] = mapped_column(String(32))  # shown for identification
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Student(Base):
    __tablename__ = "students"
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # partner's pseudonym
    grade: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Classroom(Base):
    __tablename__ = "classes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # e.g. "Grade 5 B", never a person's name
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClassTeacher(Base):
    __tablename__ = "class_teachers"
    class_id: Mapped[str] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )
    teacher_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class ClassStudent(Base):
    __tablename__ = "class_students"
    class_id: Mapped[str] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class TutoringSession(Base):
    __tablename__ = "tutoring_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # also the graph thread id
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    student_id: Mapped[str] = mapped_column(String(128))
    grade: Mapped[int] = mapped_column(Integer)
    passage_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_tutoring_sessions_tenant_student", "tenant_id", "student_id"),)


class Message(Base):
    """One acknowledged exchange: the redacted student message and the redacted reply."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("tutoring_sessions.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)  # redacted
    reply: Mapped[str] = mapped_column(Text)  # redacted
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)  # move, blocked, provider…
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        UniqueConstraint("session_id", "idempotency_key"),
    )


class IdempotencyRecord(Base):
    """A POST answered once: its request fingerprint and the (redacted) response to replay."""

    __tablename__ = "idempotency_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    api_key_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="in_progress")  # or "done"
    owner: Mapped[str] = mapped_column(String(64))  # server instance that holds the lock
    student_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)


class QuestionJob(Base):
    __tablename__ = "question_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[str | None] = mapped_column(String(128))
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)  # cleared once finished
    status: Mapped[str] = mapped_column(String(16), default="queued")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(String(64), default=None)
    attempts: Mapped[int] = mapped_column(default=0)  # starts so far (bounded: service/jobs)
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)  # last worker
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class GradedResponse(Base):
    """A quiz result posted by the LMS; it updates the student's mastery estimate."""

    __tablename__ = "graded_responses"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    student_id: Mapped[str] = mapped_column(String(128))
    skill: Mapped[str] = mapped_column(String(128))
    correct: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    item_id: Mapped[str | None] = mapped_column(String(200), default=None)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_graded_responses_tenant_student", "tenant_id", "student_id"),)


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))  # needed in clear to sign deliveries
    events: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """Outbox row: written in the same transaction as the event, sent by the worker."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(String(64))
    student_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)


class XapiStatement(Base):
    __tablename__ = "xapi_statements"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # statement UUID
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    student_id: Mapped[str] = mapped_column(String(128))
    verb: Mapped[str] = mapped_column(String(200))
    statement: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        Index("ix_xapi_statements_tenant_stored", "tenant_id", "stored_at"),
        Index("ix_xapi_statements_tenant_student", "tenant_id", "student_id"),
    )


class TenantPassage(Base):
    """Which tenant ingested a passage: another tenant's passages are invisible to a key."""

    __tablename__ = "tenant_passages"
    passage_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "tenant": the tenant's library; "private": a teacher's pasted text (the teacher, their
    # classes, the tenant's admins and partner); "shared": published by an admin to everyone.
    visibility: Mapped[str] = mapped_column(String(16), default="tenant", server_default="tenant")
    created_by: Mapped[str | None] = mapped_column(String(128), default=None)
    # The row is claimed before the passage is written; until "ready" nobody sees it.
    ready: Mapped[bool] = mapped_column(default=True, server_default=true())
    # For a published passage: the SHA-256 of the text the admin reviewed. Every worker
    # reads it (guardrails.suite), so a publish exempts its names everywhere at once.
    reviewed_digest: Mapped[str | None] = mapped_column(String(64), default=None)


# Tables of other areas, in their own modules (imported here so one metadata holds all:
# one database, one migration history).
from readloom.storage import models_insights as _models_insights  # noqa: E402, F401
from readloom.storage import models_mlops as _models_mlops  # noqa: E402, F401
from readloom.storage import models_stores as _models_stores  # noqa: E402, F401
from readloom.storage.models_catalogue import CatalogueEntry  # noqa: E402, F401 - needs Base
