"""The stores that used to keep their own SQLite files, as tables of the one database.

Usage ledger and response cache (``llm/``), audit log, alert queue and pseudonym vault
(``guardrails/``), mastery (``tools/``) and LTI launch state (``api/lti``). Each store keeps
its public interface and reaches these tables through ``storage.stores``. Times the stores
compare as numbers stay epoch seconds (``Float``); the audit log keeps ISO-8601 strings.
The vault holds Fernet tokens (values stay encrypted) and keyed HMAC lookups only.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from readloom.storage.models import Base

# --- llm/ ---------------------------------------------------------------------------


class LlmUsage(Base):
    """One model call: counts, ids and money, never text."""

    __tablename__ = "llm_usage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float)
    month: Mapped[str] = mapped_column(String(7))
    tenant: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    prompt_id: Mapped[str] = mapped_column(String(128))
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    cached: Mapped[int] = mapped_column(Integer, default=0)
    student_id: Mapped[str | None] = mapped_column(String(200), default=None)
    __table_args__ = (
        Index("ix_llm_usage_tenant_month", "tenant", "month"),
        Index("ix_llm_usage_tenant_student", "tenant", "student_id"),
    )


class LlmCacheEntry(Base):
    """A cached (already redacted) model answer, keyed by a hash of the whole request."""

    __tablename__ = "llm_cache"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[float] = mapped_column(Float, index=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    parsed: Mapped[str | None] = mapped_column(Text, default=None)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    finish_reason: Mapped[str | None] = mapped_column(String(32), default=None)


# --- guardrails/ ----------------------------------------------------------------------


class AuditEventRow(Base):
    """Append-only (triggers in the migration): no UPDATE, and DELETE only of sessions
    granted in ``audit_erasure_grants`` within the erasing transaction."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(32))  # pseudonymous student id (stu_...)
    session: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(200))
    guard: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str | None] = mapped_column(String(200), default=None)
    entities: Mapped[str] = mapped_column(Text)  # JSON list of entity types
    severity: Mapped[str | None] = mapped_column(String(200), default=None)
    __table_args__ = (Index("ix_audit_events_tenant_actor", "tenant", "actor"),)


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str] = mapped_column(String(200))
    session: Mapped[str] = mapped_column(String(200), index=True)
    actor: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(200))
    entities: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), default=None)
    acknowledged_at: Mapped[str | None] = mapped_column(String(32), default=None)
    __table_args__ = (
        CheckConstraint("severity IN ('low','medium','high','critical')", name="severity"),
        CheckConstraint("status IN ('open','review','acknowledged')", name="status"),
        Index("ix_alerts_queue", "tenant", "status", "created_at"),
    )


class AuditErasureGrant(Base):
    """Sessions whose audit rows may be deleted: written and emptied inside the one
    FERPA-erasure transaction, so no session id of an erased student outlives it."""

    __tablename__ = "audit_erasure_grants"
    session: Mapped[str] = mapped_column(String(200), primary_key=True)


class VaultPseudonym(Base):
    __tablename__ = "vault_pseudonyms"
    session_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lookup: Mapped[str] = mapped_column(String(64))  # HMAC(session, label, normalised value)
    value: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token
    created_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("session_id", "lookup"),)


class VaultAlias(Base):
    """A first or last name alone finds the full name's pseudonym."""

    __tablename__ = "vault_aliases"
    session_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lookup: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(64))
    idx: Mapped[int] = mapped_column(Integer)


class VaultSessionOwner(Base):
    __tablename__ = "vault_session_owners"
    session_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    student: Mapped[str] = mapped_column(String(64), index=True)  # HMAC of the student id


# --- tools/ ---------------------------------------------------------------------------


class MasteryEstimate(Base):
    __tablename__ = "mastery_estimates"
    student_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    skill: Mapped[str] = mapped_column(String(128), primary_key=True)
    p: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[float] = mapped_column(Float)


class MasteryResponse(Base):
    """One graded response. ``event_key`` names the turn (or request) that produced it:
    a retried turn carries the same key and is not counted twice."""

    __tablename__ = "mastery_responses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    student_id: Mapped[str] = mapped_column(String(300))
    skill: Mapped[str] = mapped_column(String(128))
    correct: Mapped[int] = mapped_column(Integer)
    p_before: Mapped[float] = mapped_column(Float)
    p_after: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float)
    event_key: Mapped[str | None] = mapped_column(String(300), default=None, unique=True)
    __table_args__ = (Index("ix_mastery_responses_student", "student_id", "id"),)


# --- api/lti ----------------------------------------------------------------------------


class LtiState(Base):
    __tablename__ = "lti_states"
    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    used_at: Mapped[float | None] = mapped_column(Float, default=None)


class LtiNonce(Base):
    __tablename__ = "lti_nonces"
    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(500), primary_key=True)
    used_at: Mapped[float] = mapped_column(Float, index=True)


class LtiPageKey(Base):
    __tablename__ = "lti_page_keys"
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, default=None)
    launch: Mapped[str | None] = mapped_column(Text, default=None)  # JSON
    __table_args__ = (Index("ix_lti_page_keys_expiry", "revoked_at", "expires_at"),)


# --- upgrade in place -----------------------------------------------------------------


class LegacyImport(Base):
    """A store file of an earlier release whose rows were copied in (``storage.legacy``),
    recorded in the copy's own transaction so a crash never imports a file twice."""

    __tablename__ = "legacy_imports"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    rows: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[float] = mapped_column(Float)
