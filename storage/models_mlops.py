"""Tables for operating the models: the registry, experiments and scheduled-run claims.

A model version stores its artifact (for mastery, the BKT parameters themselves; for the
shipped classifiers, the artifact's digest and path), so a rollback needs nothing but the
database. Outcomes are keyed by tenant-qualified pseudonyms, never by names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from readloom.storage.models import Base, utcnow


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))  # mastery | injection | readability
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))  # production | candidate | archived
    artifact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    data_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    code_commit: Mapped[str] = mapped_column(String(64))
    training: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(default=None)
    __table_args__ = (
        UniqueConstraint("name", "version"),
        Index("ix_model_versions_name_stage", "name", "stage"),
    )


class Experiment(Base):
    __tablename__ = "experiments"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    factor: Mapped[str] = mapped_column(String(16))  # prompt | provider | policy
    arms: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"name", "config"}]
    metric: Mapped[str] = mapped_column(String(64))  # the primary outcome
    status: Mapped[str] = mapped_column(String(16), default="running")  # or "stopped"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExperimentOutcome(Base):
    __tablename__ = "experiment_outcomes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    student_id: Mapped[str] = mapped_column(String(200), index=True)  # tenant-qualified
    arm: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    # the tutoring session of a turn's outcome (per-session metrics sum over it); None for
    # outcomes a partner posts, each of which is one value already
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_experiment_outcomes_exp_metric", "experiment_id", "metric"),)


class RecommendationEvent(Base):
    """One next-step recommendation served (to a student or in a class view), for the
    monitor's recommendation mix. It names the passage and skill, never the student: the
    mix is the measure, and a row that identifies no child needs no erasure."""

    __tablename__ = "recommendation_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    passage_id: Mapped[str | None] = mapped_column(String(200), default=None)
    skill_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # continue | new | review
    policy: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ScheduledRun(Base):
    """A claim on one period of a scheduled job: several servers, one nightly refit."""

    __tablename__ = "scheduled_runs"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. 2026-12-01
    status: Mapped[str] = mapped_column(String(16), default="running")
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
