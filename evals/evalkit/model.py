"""The records a suite hands back and the report is made of (pydantic at the edges)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pass", "fail", "open", "skipped", "info", "missing", "error"]
Direction = Literal["higher", "lower"]


class Metric(BaseModel):
    """One measured figure. ``value`` is None only when the metric was skipped."""

    model_config = ConfigDict(extra="forbid")

    name: str
    value: float | None
    n: int | None = Field(default=None, description="How many cases the figure is computed on")
    skipped: str | None = Field(default=None, description="Why the metric was not measured")
    note: str | None = None


class DatasetRef(BaseModel):
    """A dataset a suite read: where it is and the sha256 of its bytes (a folder: of its files)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    path: str
    sha256: str
    records: int | None = None
    subset: str | None = Field(
        default=None, description="Which part was used, and how it was drawn"
    )


class SuiteOutput(BaseModel):
    """What a suite returns: its metrics, the data it read, and notes for the reader."""

    metrics: list[Metric] = Field(default_factory=list)
    datasets: list[DatasetRef] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    models: dict[str, int] = Field(
        default_factory=dict, description="'provider/model' -> calls seen in answers' provenance"
    )
    details: dict[str, Any] = Field(
        default_factory=dict, description="Small breakdowns for the reader; never gated"
    )

    def add(
        self, name: str, value: float | None, *, n: int | None = None, note: str | None = None
    ) -> None:
        self.metrics.append(Metric(name=name, value=value, n=n, note=note))

    def skip(self, name: str, reason: str) -> None:
        self.metrics.append(Metric(name=name, value=None, skipped=reason))


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float
    direction: Direction = Field(description="higher: value must be >= threshold; lower: <=")
    tolerance: float = Field(
        default=0.0, ge=0.0, description="How much worse than the baseline a value may get"
    )
    description: str = ""
    open_issue: int | None = Field(
        default=None,
        description="The goal of an open issue that is not met yet: a miss is reported as "
        "'open' on every run and does not fail it. Never set on a bar that already gated.",
    )


class MetricRow(BaseModel):
    """A metric as judged: against its threshold and against the baseline run."""

    suite: str
    name: str
    value: float | None
    n: int | None = None
    threshold: float | None = None
    direction: Direction | None = None
    tolerance: float | None = None
    status: Status
    baseline: float | None = None
    delta: float | None = None
    regressed: bool = False
    note: str | None = None

    @property
    def key(self) -> str:
        return f"{self.suite}.{self.name}"


class SuiteRecord(BaseModel):
    name: str
    status: Literal["ok", "error"]
    seconds: float
    cpu_seconds: float | None = Field(
        default=None, description="CPU time of the process (wall time varies on a shared machine)"
    )
    error: str | None = None
    notes: list[str] = Field(default_factory=list)
    datasets: list[DatasetRef] = Field(default_factory=list)
    models: dict[str, int] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)


class Summary(BaseModel):
    passed: int = 0
    failed: int = 0
    open: int = 0  # goals of open issues not met yet (reported, not failing)
    missing: int = 0
    regressed: int = 0
    skipped: int = 0
    info: int = 0
    suite_errors: int = 0
    exit_code: int = 0


class Report(BaseModel):
    schema_id: str = Field(default="readloom-eval-report/1", alias="schema")
    created_at: str
    seconds: float
    cpu_seconds: float | None = None
    setup: dict[str, Any] = Field(
        default_factory=dict, description="Loading the shared models and stores, timed apart"
    )
    provenance: dict[str, Any]
    suites: dict[str, SuiteRecord]
    metrics: list[MetricRow]
    summary: Summary

    model_config = ConfigDict(populate_by_name=True)
