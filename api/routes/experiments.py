"""Experiments (admin): create one, post outcomes, read the report with effect sizes,
confidence intervals and the test (see ``mlops/experiments.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from readloom.api.auth import Principal
from readloom.api.deps import RuntimeDep, allow
from readloom.mlops import experiments
from readloom.mlops.experiments import ExperimentIn

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

Admin = Annotated[Principal, allow("admin")]
Reporter = Annotated[Principal, allow("partner", "admin")]


class ExperimentOut(BaseModel):
    id: str
    name: str
    factor: str
    metric: str
    status: str
    arms: list[dict[str, Any]]
    planned_students_per_arm: int


class OutcomeIn(BaseModel):
    student_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    metric: str = Field(max_length=64)
    value: float = Field(allow_inf_nan=False)


class OutcomeOut(BaseModel):
    arm: str


def _out(exp: Any) -> ExperimentOut:
    return ExperimentOut(
        id=exp.id, name=exp.name, factor=exp.factor, metric=exp.metric, status=exp.status,
        arms=exp.arms, planned_students_per_arm=experiments.horizon(exp),
    )  # fmt: skip


@router.post("", status_code=201, response_model=ExperimentOut)
async def create_experiment(body: ExperimentIn, principal: Admin, rt: RuntimeDep) -> ExperimentOut:
    async with rt.db.writer() as s:
        exp = await experiments.create(s, principal.tenant, body)
        return _out(exp)


@router.post("/{experiment_id}/outcomes", status_code=201, response_model=OutcomeOut)
async def record_outcome(
    experiment_id: str, body: OutcomeIn, principal: Reporter, rt: RuntimeDep
) -> OutcomeOut:
    """An outcome measured outside readloom (e.g. an LMS quiz) for one student."""
    async with rt.db.writer() as s:
        arm = await experiments.record(
            s, principal.tenant, experiment_id, body.student_id, body.metric, body.value
        )
    return OutcomeOut(arm=arm)


@router.get("/{experiment_id}/report")
async def experiment_report(experiment_id: str, principal: Admin, rt: RuntimeDep) -> dict[str, Any]:
    """Per metric: students per arm, means, and each arm against control (effect, CI, p)."""
    async with rt.db.reader() as s:
        return await experiments.report(s, principal.tenant, experiment_id)
