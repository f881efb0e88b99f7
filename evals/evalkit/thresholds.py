"""Thresholds (one versioned YAML file) and the verdict on each metric: pass/fail against
its threshold, regression against a baseline report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.model import Metric, MetricRow, Summary, Threshold
from evalkit.provenance import display_path

EPS = 1e-9


class ConfigError(Exception):
    """A thresholds or baseline file that cannot be used: the run stops (exit 2)."""


class ThresholdFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    suites: dict[str, dict[str, Threshold]] = Field(default_factory=dict)


def load_thresholds(path: Path) -> ThresholdFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ThresholdFile.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"thresholds file {path} is not usable: {exc}") from exc


class Baseline(BaseModel):
    """The parts of an earlier report a run is compared against."""

    path: str
    values: dict[str, float]
    providers: list[str] | None = None
    git_commit: str | None = None
    datasets: dict[str, list[str]] = {}  # suite -> sorted sha256 of the data it read

    def comparable(self, providers: list[str], suite: str, hashes: list[str]) -> bool:
        """Gate regressions only against a run on the same providers and the same data."""
        if self.providers is not None and self.providers != providers:
            return False
        return suite not in self.datasets or self.datasets[suite] == hashes


def load_baseline(path: Path) -> Baseline:
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        rows = raw["metrics"]
        values = {
            f"{r['suite']}.{r['name']}": float(r["value"])
            for r in rows
            if r.get("value") is not None
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"baseline {path} is not a readloom eval report: {exc}") from exc
    prov = raw.get("provenance") or {}
    suites = raw.get("suites") or {}
    datasets = {
        name: sorted(d["sha256"] for d in rec.get("datasets", []))
        for name, rec in suites.items()
        if isinstance(rec, dict)
    }
    return Baseline(
        path=display_path(path), values=values, git_commit=prov.get("git_commit"),
        providers=prov.get("effective_providers", prov.get("providers")), datasets=datasets,
    )  # fmt: skip


def passes(value: float, t: Threshold) -> bool:
    if t.direction == "higher":
        return value >= t.threshold - EPS
    return value <= t.threshold + EPS


def worse_by(value: float, baseline: float, t: Threshold) -> float:
    """How much worse ``value`` is than ``baseline`` (negative when it improved)."""
    return baseline - value if t.direction == "higher" else value - baseline


def judge_suite(
    suite: str,
    metrics: list[Metric],
    thresholds: dict[str, Threshold],
    baseline: dict[str, float] | None,
    *,
    errored: bool = False,
    gate_regressions: bool = True,
) -> list[MetricRow]:
    """One row per produced metric, plus a failing row per thresholded metric not produced."""
    rows: list[MetricRow] = []
    baseline = baseline or {}
    seen: set[str] = set()
    for m in metrics:
        seen.add(m.name)
        t = thresholds.get(m.name)
        row = MetricRow(
            suite=suite, name=m.name, value=m.value, n=m.n, note=m.note or m.skipped,
            threshold=t.threshold if t else None, direction=t.direction if t else None,
            tolerance=t.tolerance if t else None, status="info",
        )  # fmt: skip
        if m.value is None:
            # Only an explicit reason makes a skip; a figure that came out empty is missing.
            row.status = "skipped" if m.skipped else ("missing" if t is not None else "info")
        elif t is not None:
            row.status = "pass" if passes(m.value, t) else ("open" if t.open_issue else "fail")
            if row.status == "open":
                row.note = f"open goal of issue {t.open_issue}" + (
                    f"; {row.note}" if row.note else ""
                )
        base = baseline.get(row.key)
        if m.value is not None and base is not None:
            row.baseline = base
            row.delta = round(m.value - base, 6)
            if t is not None and gate_regressions:
                row.regressed = worse_by(m.value, base, t) > t.tolerance + EPS
        rows.append(row)
    for name, t in thresholds.items():
        if name in seen:
            continue
        rows.append(
            MetricRow(
                suite=suite,
                name=name,
                value=None,
                threshold=t.threshold,
                direction=t.direction,
                tolerance=t.tolerance,
                status="error" if errored else "missing",
                note="suite failed" if errored else "metric not produced by the suite",
            )  # fmt: skip
        )
    return rows


def summarize(rows: list[MetricRow], suite_errors: int) -> Summary:
    s = Summary(suite_errors=suite_errors)
    for r in rows:
        if r.status == "pass":
            s.passed += 1
        elif r.status == "fail":
            s.failed += 1
        elif r.status == "open":
            s.open += 1
        elif r.status in ("missing", "error"):
            s.missing += 1
        elif r.status == "skipped":
            s.skipped += 1
        else:
            s.info += 1
        s.regressed += int(r.regressed)
    bad = s.failed or s.missing or s.regressed or s.suite_errors
    s.exit_code = 1 if bad else 0
    return s
