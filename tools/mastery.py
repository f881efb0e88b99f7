"""Mastery estimator: per-student BKT state, persisted, with cold-start priors.

The math lives in ``mastery_model`` (parameters, online update), ``mastery_em`` (EM fit)
and ``mastery_data`` (CSV logs); this module is what agents and the API use. The store
keeps a small interface (``get``, ``record``, ``history``, ``delete``); its tables
(``mastery_estimates``, ``mastery_responses``) are in the one database, shared by every
worker. A response recorded with an ``event_key`` (the turn that graded it) is counted
once however often that turn is retried.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field
from sqlalchemy import delete, insert, select
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from readloom.errors import InputError
from readloom.settings import Settings
from readloom.storage.models_stores import MasteryEstimate, MasteryResponse
from readloom.storage.stores import store_db
from readloom.tools.mastery_em import Bounds, FitResult, fit_bkt, predict_responses
from readloom.tools.mastery_model import (
    DEFAULT_PARAMS,
    BKTModel,
    BKTParams,
    cold_start_prior,
    p_correct,
    update,
)
from readloom.tools.prerequisites import SkillGraph

__all__ = [
    "DEFAULT_PARAMS",
    "BKTModel",
    "BKTParams",
    "Bounds",
    "FitResult",
    "MasteryEvent",
    "MasteryStore",
    "cold_start_prior",
    "fit_bkt",
    "make_mastery_tools",
    "p_correct",
    "predict_responses",
    "update",
]

log = logging.getLogger(__name__)

MODEL_FILE = "mastery_model.json"
_EST = MasteryEstimate.__table__
_RESP = MasteryResponse.__table__


class MasteryEvent(BaseModel):
    """One graded response and what it did to the estimate."""

    skill: str
    correct: bool
    p_before: float = Field(description="P(mastered) before the response (cold start if first)")
    p_after: float
    at: datetime


class MasteryStore:
    """Per-student P(mastered) per skill, in the one database.

    ``model`` defaults to ``<home>/mastery_model.json`` when it exists (written by
    ``readloom mastery fit``), else to default parameters; ``graph`` defaults to the
    shipped skill graph and supplies prerequisites for cold-start priors.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        model: BKTModel | None = None,
        graph: SkillGraph | None = None,
        path: Path | None = None,
    ):
        self.settings = settings
        if model is None:
            model_path = settings.home / MODEL_FILE
            model = BKTModel.load(model_path) if model_path.exists() else BKTModel()
        if graph is None and settings.skills_path.exists():
            graph = SkillGraph.load(settings.skills_path)
        self.model = model
        self.graph = graph
        self._db = store_db(path if path is not None else settings)
        self.path = self._db.path

    def close(self) -> None:
        """The pool is shared by every store of the process (``storage.stores``)."""

    def _check_skill(self, skill: str) -> None:
        if self.graph is not None and skill not in self.graph:
            raise InputError(f"unknown skill '{skill}'")

    # --- the interface ----------------------------------------------------------------
    def get(self, student_id: str) -> dict[str, float]:
        """P(mastered) for every skill the student has practised."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(_EST.c.skill, _EST.c.p).where(_EST.c.student_id == student_id)
            ).all()
        return {skill: p for skill, p in rows}

    def estimate(self, student_id: str, skill: str) -> float:
        """P(mastered) of one skill: the stored value, or the cold-start prior."""
        self._check_skill(skill)
        mastery = self.get(student_id)
        if skill in mastery:
            return mastery[skill]
        return cold_start_prior(skill, mastery, self.graph, self.model.params(skill))

    def record(
        self, student_id: str, skill: str, correct: bool | int, *, event_key: str | None = None
    ) -> float:
        """Apply one graded response (O(1) BKT update) and return the new P(mastered).
        With ``event_key``, a response already recorded under that key is not applied
        again: its stored result is returned."""
        self._check_skill(skill)
        if correct not in (0, 1):  # True/False compare equal to 1/0
            raise InputError("'correct' must be 0 or 1")
        for _ in range(5):  # bounded: a concurrent first response races on the insert
            if event_key is not None and (done := self._recorded(event_key)) is not None:
                return done
            try:
                with self._db.write() as conn:
                    after = self._apply(conn, student_id, skill, int(correct), event_key)
                break
            except IntegrityError:
                continue
        else:
            raise RuntimeError("could not record the mastery response")
        log.debug("mastery_recorded skill=%s correct=%d p=%.3f", skill, int(correct), after)
        return after

    def _recorded(self, event_key: str) -> float | None:
        with self._db.read() as conn:
            return conn.execute(
                select(_RESP.c.p_after).where(_RESP.c.event_key == event_key)
            ).scalar()

    def _apply(
        self, conn: Connection, student_id: str, skill: str, correct: int, event_key: str | None
    ) -> float:
        """Read-modify-write in one transaction; the row lock (Postgres) or the write lock
        (SQLite) keeps concurrent responses of one student from losing an update."""
        params = self.model.params(skill)
        now = time.time()
        rows = conn.execute(
            select(_EST.c.skill, _EST.c.p).where(_EST.c.student_id == student_id).with_for_update()
        ).all()
        mastery = {k: p for k, p in rows}
        before = mastery.get(skill)
        if before is None:
            before = cold_start_prior(skill, mastery, self.graph, params)
        after = update(before, correct, params)
        # The response first: a duplicate event_key aborts the transaction before the
        # estimate moves.
        conn.execute(
            insert(_RESP).values(
                student_id=student_id, skill=skill, correct=correct, p_before=before,
                p_after=after, at=now, event_key=event_key,
            )
        )  # fmt: skip
        if skill in mastery:
            conn.execute(
                sa_update(_EST)
                .where(_EST.c.student_id == student_id, _EST.c.skill == skill)
                .values(p=after, attempts=_EST.c.attempts + 1, updated_at=now)
            )
        else:
            conn.execute(
                insert(_EST).values(
                    student_id=student_id, skill=skill, p=after, attempts=1, updated_at=now
                )
            )
        return after

    def history(self, student_id: str) -> list[MasteryEvent]:
        """Every recorded response of the student, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(
                    _RESP.c.skill, _RESP.c.correct, _RESP.c.p_before, _RESP.c.p_after, _RESP.c.at
                )
                .where(_RESP.c.student_id == student_id)
                .order_by(_RESP.c.id)
            ).all()
        return [
            MasteryEvent(
                skill=s,
                correct=bool(c),
                p_before=b,
                p_after=a,
                at=datetime.fromtimestamp(t, tz=UTC),
            )
            for s, c, b, a, t in rows
        ]

    def responses(
        self, since: float | None = None, until: float | None = None
    ) -> list[tuple[str, str, int, float, float]]:
        """Graded responses as (student, skill, correct, unix time, P(mastered) before),
        oldest first: what refits train on and calibration monitoring checks."""
        query = select(
            _RESP.c.student_id, _RESP.c.skill, _RESP.c.correct, _RESP.c.at, _RESP.c.p_before
        ).where(_RESP.c.at >= (since or 0.0))
        if until is not None:
            query = query.where(_RESP.c.at < until)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(_RESP.c.id)).all()
        return [(u, s, int(c), float(t), float(b)) for u, s, c, t, b in rows]

    def delete(self, student_id: str, *, conn: Connection | None = None) -> int:
        """Forget a student entirely (records erased on request); returns rows removed.
        In the caller's transaction when ``conn`` is given."""
        if conn is None:
            with self._db.write() as own:
                return self.delete(student_id, conn=own)
        removed = conn.execute(delete(_EST).where(_EST.c.student_id == student_id)).rowcount
        removed += conn.execute(delete(_RESP).where(_RESP.c.student_id == student_id)).rowcount
        log.info("mastery_deleted rows=%d", removed)
        return int(removed)


# --- LangChain tool ---------------------------------------------------------------------


class _MasteryArgs(BaseModel):
    student_id: str = Field(description="Pseudonymous student id")
    skills: list[str] | None = Field(
        default=None,
        description="Skill ids to estimate (cold start if unpractised); all practised if omitted",
    )


def make_mastery_tools(store: MasteryStore) -> list[BaseTool]:
    """A read-only tool: models see mastery, but only graded answers change it."""

    def student_mastery(student_id: str, skills: list[str] | None = None) -> dict[str, float]:
        if skills is None:
            return {k: round(v, 3) for k, v in store.get(student_id).items()}
        return {s: round(store.estimate(student_id, s), 3) for s in skills}

    return [
        StructuredTool.from_function(
            student_mastery,
            name="student_mastery",
            description="P(mastered) per reading skill for a student (0 to 1; 0.95 means mastered).",
            args_schema=_MasteryArgs,
        )
    ]
