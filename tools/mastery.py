"""Mastery estimator: per-student BKT state, persisted, with cold-start priors.

The math lives in ``mastery_model`` (parameters, online update), ``mastery_em`` (EM fit)
and ``mastery_data`` (CSV logs); this module is what agents and the API use. The store
keeps a small interface (``get``, ``record``, ``history``, ``delete``) so it can move from
SQLite to another database without touching callers.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from readloom.errors import InputError
from readloom.settings import Settings
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
DB_FILE = "mastery.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mastery (
    student_id TEXT NOT NULL,
    skill TEXT NOT NULL,
    p REAL NOT NULL,
    attempts INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (student_id, skill)
);
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id TEXT NOT NULL,
    skill TEXT NOT NULL,
    correct INTEGER NOT NULL,
    p_before REAL NOT NULL,
    p_after REAL NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_student ON responses (student_id, id);
"""


class MasteryEvent(BaseModel):
    """One graded response and what it did to the estimate."""

    skill: str
    correct: bool
    p_before: float = Field(description="P(mastered) before the response (cold start if first)")
    p_after: float
    at: datetime


class MasteryStore:
    """Per-student P(mastered) per skill in SQLite under ``settings.home``.

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
        if path is None:
            settings.ensure_home()
            path = settings.home / DB_FILE
        self.path = path
        # One connection per store (closing the last WAL connection checkpoints: slow),
        # shared by threads under a lock; other processes are serialized by SQLite.
        self._conn = sqlite3.connect(
            path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt, fast commits
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _check_skill(self, skill: str) -> None:
        if self.graph is not None and skill not in self.graph:
            raise InputError(f"unknown skill '{skill}'")

    # --- the interface ----------------------------------------------------------------
    def get(self, student_id: str) -> dict[str, float]:
        """P(mastered) for every skill the student has practised."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT skill, p FROM mastery WHERE student_id = ?", (student_id,)
            ).fetchall()
        return {skill: p for skill, p in rows}

    def estimate(self, student_id: str, skill: str) -> float:
        """P(mastered) of one skill: the stored value, or the cold-start prior."""
        self._check_skill(skill)
        mastery = self.get(student_id)
        if skill in mastery:
            return mastery[skill]
        return cold_start_prior(skill, mastery, self.graph, self.model.params(skill))

    def record(self, student_id: str, skill: str, correct: bool | int) -> float:
        """Apply one graded response (O(1) BKT update) and return the new P(mastered)."""
        self._check_skill(skill)
        if correct not in (0, 1):  # True/False compare equal to 1/0
            raise InputError("'correct' must be 0 or 1")
        params = self.model.params(skill)
        now = time.time()
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # read-modify-write without lost updates
            try:
                mastery = dict(
                    conn.execute(
                        "SELECT skill, p FROM mastery WHERE student_id = ?", (student_id,)
                    ).fetchall()
                )
                before = mastery.get(skill)
                if before is None:
                    before = cold_start_prior(skill, mastery, self.graph, params)
                after = update(before, correct, params)
                conn.execute(
                    "INSERT INTO mastery (student_id, skill, p, attempts, updated_at) "
                    "VALUES (?, ?, ?, 1, ?) ON CONFLICT (student_id, skill) DO UPDATE SET "
                    "p = excluded.p, attempts = attempts + 1, updated_at = excluded.updated_at",
                    (student_id, skill, after, now),
                )
                conn.execute(
                    "INSERT INTO responses (student_id, skill, correct, p_before, p_after, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (student_id, skill, int(correct), before, after, now),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        log.debug("mastery_recorded skill=%s correct=%d p=%.3f", skill, int(correct), after)
        return after

    def history(self, student_id: str) -> list[MasteryEvent]:
        """Every recorded response of the student, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT skill, correct, p_before, p_after, at FROM responses "
                "WHERE student_id = ? ORDER BY id",
                (student_id,),
            ).fetchall()
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
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT student_id, skill, correct, at, p_before FROM responses "
                "WHERE at >= ? AND at < ? ORDER BY id",
                (since or 0.0, until if until is not None else float("inf")),
            ).fetchall()
        return [(u, s, int(c), float(t), float(b)) for u, s, c, t, b in rows]

    def delete(self, student_id: str) -> int:
        """Forget a student entirely (records erased on request); returns rows removed."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            removed = conn.execute(
                "DELETE FROM mastery WHERE student_id = ?", (student_id,)
            ).rowcount
            removed += conn.execute(
                "DELETE FROM responses WHERE student_id = ?", (student_id,)
            ).rowcount
            conn.execute("COMMIT")
        log.info("mastery_deleted rows=%d", removed)
        return removed


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
