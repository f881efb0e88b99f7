"""Experiments: a tenant compares arms that differ in a prompt version, a provider/model or
a tutoring policy, on learning outcomes.

Assignment is deterministic: ``sha256(tenant, experiment, student)`` picks the arm, so a
student stays in one arm on every server and after every restart, and nothing needs
storing to know it. Outcomes are rows (student, arm, metric, value); tutor turns record
theirs as they are committed (``record_turn_outcomes``), and partners may post others.
Reports use ``mlops.stats`` at the planned horizon (fixed-horizon design).

What an arm *does*: its ``config`` is a ``TutorPolicy`` (checked when the experiment is
created), e.g. ``{"prompt": "tutor_reply@v1"}``, ``{"provider": "anthropic"}``,
``{"hint_ladder": 2, "tries_before_worked": 2}`` or ``{"question_order": "passage"}``.
Before each tutor turn ``assignment`` merges the learner's arms of every running
experiment (the oldest experiment wins a knob two of them set); the planner puts the
policy in the turn's plan, the tutor applies it, and the turn records the arms it ran
under (in its provenance and in its outcomes).

Per-turn outcomes (``record_turn_outcomes``): next-attempt correctness and the change in
P(mastered) of the graded skill (graded turns), whether the tutor gave a hint, one turn
of session length, and the turn's cost. Reports turn them into the issue's measures per
student: mean correctness and cost per turn, mastery gain and turns per session (summed
within each session, averaged over the student's sessions) and hints per correct answer.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import defaultdict
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from readloom.errors import InputError, NotFound, ReadloomError
from readloom.mlops.stats import compare, planned_n
from readloom.state import TutorPolicy
from readloom.storage.models_mlops import Experiment, ExperimentOutcome

log = logging.getLogger(__name__)

Factor = Literal["prompt", "provider", "policy"]
METRICS = (
    "next_attempt_correct",  # 0/1 per graded attempt
    "mastery_gain",  # P(mastered) after - before, per session
    "hints_per_correct",
    "session_turns",
    "cost_per_turn_usd",
)
# What a tutor turn stores (``hints`` only feeds hints_per_correct); summed per session:
SESSION_SUMS = ("mastery_gain", "session_turns")
HINT_MOVES = frozenset({"hint", "alternate_explanation"})


class Assignment(BaseModel):
    """A learner's arms (experiment id -> arm) and the tutoring policy they add up to."""

    arms: dict[str, str] = Field(default_factory=dict)
    policy: TutorPolicy = Field(default_factory=TutorPolicy)


class Arm(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("config")
    @classmethod
    def _a_policy(cls, config: dict[str, Any]) -> dict[str, Any]:
        """An arm the tutor cannot apply is refused now, not found out mid-session."""
        policy = TutorPolicy.model_validate(config)
        if policy.prompt:
            from readloom.prompts.loader import load_prompt

            name, _, version = policy.prompt.partition("@v")
            try:
                load_prompt(name, int(version))
            except ReadloomError as exc:
                raise ValueError(f"prompt {policy.prompt} does not exist") from exc
        return policy.model_dump(exclude_none=True)


class ExperimentIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    factor: Factor
    arms: list[Arm] = Field(min_length=2, max_length=8)
    metric: Literal[METRICS] = "next_attempt_correct"  # type: ignore[valid-type]
    baseline: float = Field(default=0.5, gt=0, lt=1, description="Expected control rate")
    mde: float = Field(default=0.10, gt=0, lt=1, description="Smallest effect worth finding")

    @field_validator("arms")
    @classmethod
    def _distinct(cls, arms: list[Arm]) -> list[Arm]:
        if len({a.name for a in arms}) != len(arms):
            raise ValueError("arm names must be distinct")
        return arms


def assign(tenant: str, experiment_id: str, student_id: str, arms: list[str]) -> str:
    digest = hashlib.sha256(f"{tenant}\0{experiment_id}\0{student_id}".encode()).digest()
    return arms[int.from_bytes(digest[:8], "big") % len(arms)]


def _arm_names(exp: Experiment) -> list[str]:
    return [a["name"] for a in exp.arms]


async def create(s: AsyncSession, tenant: str, body: ExperimentIn) -> Experiment:
    horizon = planned_n(min(body.baseline, 1 - body.mde - 1e-9), body.mde)
    exp = Experiment(
        id=f"exp_{uuid.uuid4().hex[:16]}", tenant_id=tenant, name=body.name, factor=body.factor,
        arms=[a.model_dump() | ({"horizon": horizon} if i == 0 else {})
              for i, a in enumerate(body.arms)],
        metric=body.metric, status="running",
    )  # fmt: skip
    s.add(exp)
    await s.flush()
    return exp


async def get(s: AsyncSession, tenant: str | None, experiment_id: str) -> Experiment:
    """``tenant=None``: the operator's CLI, which sees every tenant's experiments."""
    exp = await s.get(Experiment, experiment_id)
    if exp is None or (tenant is not None and exp.tenant_id != tenant):  # another tenant's: 404
        raise NotFound(f"experiment {experiment_id} not found")
    return exp


def horizon(exp: Experiment) -> int:
    return int(exp.arms[0].get("horizon", 0)) if exp.arms else 0


async def arm_config(
    s: AsyncSession, tenant: str, student_id: str
) -> dict[str, tuple[str, dict[str, Any]]]:
    """For each running experiment of the tenant, oldest first: (arm, config) of this
    student."""
    rows = (
        await s.execute(
            select(Experiment)
            .where(Experiment.tenant_id == tenant, Experiment.status == "running")
            .order_by(Experiment.created_at, Experiment.id)
        )
    ).scalars()
    out = {}
    for exp in rows:
        arm = assign(tenant, exp.id, student_id, _arm_names(exp))
        config = next(a.get("config", {}) for a in exp.arms if a["name"] == arm)
        out[exp.id] = (arm, dict(config))
    return out


async def assignment(s: AsyncSession, tenant: str, student_id: str) -> Assignment:
    """The learner's arms and merged policy for the next turn (deterministic: the same
    learner gets the same arms on every server). A knob set by an older experiment is not
    overridden by a newer one; a stored config the tutor cannot read is left out (and
    logged) rather than failing the child's turn."""
    arms: dict[str, str] = {}
    knobs: dict[str, Any] = {}
    for exp_id, (arm, config) in (await arm_config(s, tenant, student_id)).items():
        arms[exp_id] = arm
        try:
            valid = TutorPolicy.model_validate(config).model_dump(exclude_none=True)
        except ValidationError:
            log.warning("experiment %s arm %s: config is not a tutor policy", exp_id, arm)
            continue
        knobs = valid | knobs
    return Assignment(arms=arms, policy=TutorPolicy.model_validate(knobs))


async def record(
    s: AsyncSession, tenant: str, experiment_id: str, student_id: str, metric: str, value: float
) -> str:
    """Store one outcome under the student's (deterministic) arm; returns the arm."""
    if metric not in METRICS:
        raise InputError(f"unknown metric '{metric}' (known: {', '.join(METRICS)})")
    exp = await get(s, tenant, experiment_id)
    arm = assign(tenant, exp.id, student_id, _arm_names(exp))
    s.add(
        ExperimentOutcome(
            experiment_id=exp.id, student_id=f"{tenant}/{student_id}", arm=arm, metric=metric,
            value=float(value),
        )
    )  # fmt: skip
    return arm


async def record_turn_outcomes(
    s: AsyncSession,
    tenant: str,
    student_id: str,
    *,
    session_id: str,
    arms: dict[str, str],
    correct: bool | None,
    mastery_gain: float | None,
    move: str | None,
    cost_usd: float,
) -> None:
    """A committed tutor turn's outcomes under the arms it ran under (``arms``, from the
    turn itself), in the caller's transaction."""
    values: dict[str, float] = {
        "cost_per_turn_usd": float(cost_usd), "session_turns": 1.0,
        "hints": float(move in HINT_MOVES),
    }  # fmt: skip
    if correct is not None:
        values["next_attempt_correct"] = float(correct)
        values["mastery_gain"] = float(mastery_gain or 0.0)
    who = f"{tenant}/{student_id}"
    for exp_id, arm in arms.items():
        for metric, value in values.items():
            s.add(ExperimentOutcome(experiment_id=exp_id, student_id=who, arm=arm, metric=metric,
                                    value=value, session_id=session_id))  # fmt: skip


def per_student(rows: list[tuple[str, str, float]]) -> dict[str, list[float]]:
    """arm -> one value per student (their mean): students, not turns, are the units that
    were randomised, so repeated turns of one child are not independent evidence."""
    by: dict[tuple[str, str], list[float]] = defaultdict(list)
    for student, arm, value in rows:
        by[(arm, student)].append(value)
    out: dict[str, list[float]] = defaultdict(list)
    for (arm, _), values in sorted(by.items()):
        out[arm].append(sum(values) / len(values))
    return dict(out)


Row = tuple[str, str, float, str | None]  # student, arm, value, session (None: posted)


def per_session(rows: list[Row]) -> dict[str, list[float]]:
    """arm -> one value per student: the mean over their sessions of the session's sum
    (a posted value with no session counts as one session's value)."""
    sums: dict[tuple[str, str, str], float] = defaultdict(float)
    for i, (student, arm, value, session) in enumerate(rows):
        sums[(student, arm, session or f"posted-{i}")] += value
    return per_student([(student, arm, v) for (student, arm, _), v in sums.items()])


def hints_per_correct(hints: list[Row], correct: list[Row]) -> dict[str, list[float]]:
    """arm -> per student: hints given / correct answers (a student with none correct
    counts their hints over one)."""
    total: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for student, arm, value, _ in hints:
        total[(arm, student)][0] += value
    for student, arm, value, _ in correct:
        if (arm, student) in total:
            total[(arm, student)][1] += value
    out: dict[str, list[float]] = defaultdict(list)
    for (arm, _), (h, c) in sorted(total.items()):
        out[arm].append(h / max(1.0, c))
    return dict(out)


def metric_values(by_metric: dict[str, list[Row]]) -> dict[str, dict[str, list[float]]]:
    """metric -> arm -> one value per student, for every measure the rows support."""
    out: dict[str, dict[str, list[float]]] = {}
    for metric, rows in by_metric.items():
        if metric == "hints":
            continue
        if metric in SESSION_SUMS:
            out[metric] = per_session(rows)
        else:
            out[metric] = per_student([(st, arm, v) for st, arm, v, _ in rows])
    if by_metric.get("hints"):  # the tutor's own turns: derived, not posted
        out["hints_per_correct"] = hints_per_correct(
            by_metric["hints"], by_metric.get("next_attempt_correct", [])
        )
    return out


def analyze_arms(
    values: dict[str, list[float]], arms: list[str], *, method: str = "auto"
) -> list[dict[str, Any]]:
    """Each treatment arm against the first (control) arm; with several treatment arms the
    level is split between them (Bonferroni), so the family's false-positive rate holds."""
    control = arms[0]
    alpha = 0.05 / max(1, len(arms) - 1)
    if len(values.get(control, [])) < 2:
        return []
    out = []
    for arm in arms[1:]:
        if len(values.get(arm, [])) < 2:
            continue
        c = compare(values[control], values[arm], names=(control, arm), method=method, alpha=alpha)  # type: ignore[arg-type]
        out.append(c.model_dump())
    return out


async def report(s: AsyncSession, tenant: str | None, experiment_id: str) -> dict[str, Any]:
    exp = await get(s, tenant, experiment_id)
    rows = (
        await s.execute(
            select(ExperimentOutcome.metric, ExperimentOutcome.student_id,
                   ExperimentOutcome.arm, ExperimentOutcome.value, ExperimentOutcome.session_id)
            .where(ExperimentOutcome.experiment_id == exp.id)
        )
    ).all()  # fmt: skip
    by_metric: dict[str, list[Row]] = defaultdict(list)
    for metric, student, arm, value, session in rows:
        by_metric[metric].append((student, arm, value, session))
    arms = _arm_names(exp)
    planned = horizon(exp)
    metrics = {}
    for metric, values in sorted(metric_values(by_metric).items()):
        n = {a: len(values.get(a, [])) for a in arms}
        reached = min(n.values()) >= planned
        metrics[metric] = {
            "students": n,
            "means": {a: (sum(v) / len(v) if v else None) for a, v in
                      ((a, values.get(a, [])) for a in arms)},
            "comparisons": analyze_arms(values, arms),
            "primary": metric == exp.metric,
        }  # fmt: skip
        if metric == exp.metric:
            metrics[metric]["horizon_reached"] = reached
    primary = metrics.get(exp.metric, {})
    if not primary:
        verdict = "no outcomes yet"
    elif not primary.get("horizon_reached"):
        verdict = (
            f"running: {min(primary['students'].values())} of {planned} students per arm; "
            "a fixed-horizon test gives no verdict before the planned sample size"
        )
    else:
        sig = [c for c in primary["comparisons"] if c["p_value"] < c["alpha"]]
        verdict = (
            "; ".join(f"{c['treatment']} differs from {c['control']} (effect {c['effect']:+.3f})"
                      for c in sig) or "no arm differs from control at the planned horizon"
        )  # fmt: skip
    return {
        "id": exp.id, "name": exp.name, "factor": exp.factor, "status": exp.status,
        "arms": exp.arms, "primary_metric": exp.metric, "planned_students_per_arm": planned,
        "verdict": verdict, "metrics": metrics,
    }  # fmt: skip
