"""The model registry: versions, stages and lineage in the application database.

Why not MLflow: its SQL store runs its own Alembic history (its own ``alembic_version``
table, and tables such as ``experiments``), so it cannot share readloom's one migrated
database and would need a second one (a file store is deprecated upstream); the skinny
client alone pulls databricks-sdk and google-auth. The registry needs four verbs
(register, promote, rollback, trace), so it is a table here (``storage/models_mlops.py``).

Stages: ``production`` (at most one per name), ``candidate`` (trained, not promoted) and
``archived`` (an old production or a rejected candidate; kept for rollback and lineage).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from readloom.errors import InputError, NotFound
from readloom.mlops.provenance import code_commit, sha256_json
from readloom.settings import Settings
from readloom.storage.db import migrate, sync_engine
from readloom.storage.models import utcnow
from readloom.storage.models_mlops import ModelVersion

log = logging.getLogger(__name__)

Stage = Literal["production", "candidate", "archived"]
MODEL_NAMES = ("mastery", "injection", "readability")
SHIPPED_NAMES = ("injection", "readability")  # weights ship inside the package


class ModelRecord(BaseModel):
    name: str
    version: int
    stage: Stage
    data_sha256: str | None
    code_commit: str
    metrics: dict[str, Any]
    training: dict[str, Any]
    artifact_sha256: str
    note: str | None = None
    created_at: datetime
    promoted_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"


def _record(row: ModelVersion) -> ModelRecord:
    return ModelRecord(
        name=row.name, version=row.version, stage=row.stage,  # type: ignore[arg-type]
        data_sha256=row.data_sha256, code_commit=row.code_commit, metrics=dict(row.metrics),
        training=dict(row.training), artifact_sha256=row.artifact_sha256, note=row.note,
        created_at=row.created_at, promoted_at=row.promoted_at,
    )  # fmt: skip


_ENGINES: dict[str, Engine] = {}


def _engine(settings: Settings) -> Engine:
    """One migrated engine per database URL per process."""
    url = settings.sqlalchemy_url
    if url not in _ENGINES:
        migrate(settings)
        _ENGINES[url] = sync_engine(settings)
    return _ENGINES[url]


def _promotion_hook(name: str) -> Callable[[Settings, ModelVersion], None] | None:
    if name == "mastery":
        from readloom.mlops.mastery_ops import materialize

        return materialize
    return None


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    """``mastery@v3`` / ``mastery@3`` -> (name, 3, None); ``injection@sha256:ab12`` ->
    (name, None, "ab12")."""
    name, _, tail = ref.strip().partition("@")
    if not name or not tail:
        raise InputError(f"model reference must look like NAME@vN, got {ref[:60]!r}")
    if tail.startswith("sha256:"):
        return name, None, tail.removeprefix("sha256:").lower()
    try:
        return name, int(tail.removeprefix("v")), None
    except ValueError:
        raise InputError(f"model reference must look like NAME@vN, got {ref[:60]!r}") from None


class Registry:
    """Synchronous (CLI, refit worker threads); every change is one transaction."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None):
        self.settings = settings
        self.engine = engine or _engine(settings)

    # --- writes ------------------------------------------------------------------------
    def register(
        self,
        name: str,
        *,
        artifact: Mapping[str, Any],
        data_sha256: str | None,
        training: Mapping[str, Any],
        metrics: Mapping[str, Any],
        artifact_sha256: str | None = None,
        stage: Stage = "candidate",
        note: str | None = None,
    ) -> ModelRecord:
        if name not in MODEL_NAMES:
            raise InputError(f"unknown model '{name}' (known: {', '.join(MODEL_NAMES)})")
        with Session(self.engine) as s, s.begin():
            latest = s.scalar(
                select(func.max(ModelVersion.version)).where(ModelVersion.name == name)
            )
            row = ModelVersion(
                name=name, version=(latest or 0) + 1, stage="candidate", artifact=dict(artifact),
                artifact_sha256=artifact_sha256 or sha256_json(artifact), data_sha256=data_sha256,
                code_commit=code_commit(self.settings), training=dict(training),
                metrics=dict(metrics), note=note,
            )  # fmt: skip
            s.add(row)
            s.flush()
            if stage == "production":
                self._promote(s, row)
            elif stage == "archived":
                row.stage = "archived"
            out = _record(row)
        log.info("model_registered name=%s version=%d stage=%s", name, out.version, out.stage)
        return out

    def _promote(self, s: Session, row: ModelVersion) -> None:
        for cur in s.scalars(
            select(ModelVersion).where(
                ModelVersion.name == row.name, ModelVersion.stage == "production"
            )
        ):
            if cur.id != row.id:
                cur.stage = "archived"
        row.stage, row.promoted_at = "production", utcnow()
        s.flush()
        hook = _promotion_hook(row.name)
        if hook is not None:
            hook(self.settings, row)  # inside the transaction: a failed hook promotes nothing

    def promote(self, name: str, version: int) -> ModelRecord:
        self._refuse_shipped(name, "promote")
        with Session(self.engine) as s, s.begin():
            row = self._row(s, name, version)
            self._promote(s, row)
            out = _record(row)
        log.info("model_promoted name=%s version=%d", name, version)
        return out

    def rollback(self, name: str) -> ModelRecord:
        """Back to the version that was production before the current one."""
        self._refuse_shipped(name, "roll back")
        with Session(self.engine) as s, s.begin():
            current = s.scalar(
                select(ModelVersion).where(
                    ModelVersion.name == name, ModelVersion.stage == "production"
                )
            )
            previous = s.scalar(
                select(ModelVersion)
                .where(
                    ModelVersion.name == name,
                    ModelVersion.stage == "archived",
                    ModelVersion.promoted_at.is_not(None),
                    *([ModelVersion.id != current.id] if current else []),
                )
                .order_by(ModelVersion.promoted_at.desc(), ModelVersion.version.desc())
                .limit(1)
            )
            if previous is None:
                raise InputError(f"'{name}' has no earlier production version to roll back to")
            if current is not None:
                current.promoted_at = None  # never a rollback target again
            self._promote(s, previous)
            out = _record(previous)
        log.info("model_rolled_back name=%s version=%d", name, out.version)
        return out

    def archive(self, name: str, version: int, *, note: str | None = None) -> None:
        with Session(self.engine) as s, s.begin():
            row = self._row(s, name, version)
            row.stage = "archived"
            if note:
                row.note = note[:500]

    def _refuse_shipped(self, name: str, verb: str) -> None:
        if name in SHIPPED_NAMES:
            raise InputError(
                f"the {name} model ships inside the package: its registry entries record "
                f"lineage; to {verb} it, deploy the release that carries those weights"
            )

    # --- reads -------------------------------------------------------------------------
    def _row(self, s: Session, name: str, version: int) -> ModelVersion:
        row = s.scalar(
            select(ModelVersion).where(ModelVersion.name == name, ModelVersion.version == version)
        )
        if row is None:
            raise NotFound(f"model {name}@v{version} is not registered")
        return row

    def list(self, name: str | None = None) -> list[ModelRecord]:
        stmt = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version)
        if name:
            stmt = stmt.where(ModelVersion.name == name)
        with Session(self.engine) as s:
            return [_record(r) for r in s.scalars(stmt)]

    def get(self, name: str, version: int) -> ModelRecord:
        with Session(self.engine) as s:
            return _record(self._row(s, name, version))

    def artifact(self, name: str, version: int) -> dict[str, Any]:
        with Session(self.engine) as s:
            return dict(self._row(s, name, version).artifact)

    def production(self, name: str) -> ModelRecord | None:
        with Session(self.engine) as s:
            row = s.scalar(
                select(ModelVersion).where(
                    ModelVersion.name == name, ModelVersion.stage == "production"
                )
            )
            return _record(row) if row else None

    def find(self, ref: str) -> ModelRecord:
        """A record by ``name@vN`` or ``name@sha256:<prefix>`` (the artifact digest)."""
        name, version, digest = parse_ref(ref)
        if version is not None:
            return self.get(name, version)
        with Session(self.engine) as s:
            rows = list(
                s.scalars(
                    select(ModelVersion)
                    .where(ModelVersion.name == name)
                    .order_by(ModelVersion.version.desc())
                )
            )
        for row in rows:
            if digest and row.artifact_sha256.startswith(digest):
                return _record(row)
        raise NotFound(f"no registered {name} model has artifact digest {digest}")

    def versions_by_digest(self, digests: Mapping[str, str]) -> dict[str, str]:
        """``name -> name@vN`` for shipped artifacts the registry knows (newest first)."""
        if not digests:
            return {}
        with Session(self.engine) as s:
            rows = s.execute(
                select(ModelVersion.name, ModelVersion.version, ModelVersion.artifact_sha256)
                .where(ModelVersion.name.in_(list(digests)))
                .order_by(ModelVersion.version.desc())
            ).all()
        out: dict[str, str] = {}
        for name, version, digest in rows:
            if name not in out and digests.get(name) == digest:
                out[name] = f"{name}@v{version}"
        return out
