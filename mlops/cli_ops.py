"""``readloom experiment``, ``readloom monitor`` and ``readloom audit`` (see mlops/cli.py)."""

from __future__ import annotations

import asyncio
import csv
import json
import math
from pathlib import Path
from typing import Any

import click

from readloom.errors import InputError
from readloom.mlops.data_quality import RowChecker
from readloom.settings import get_settings

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")


def read_outcomes(path: Path, max_bad_share: float) -> tuple[list[tuple[str, str, float]], Any]:
    """``student_id, arm, outcome`` rows, each checked; see ``mlops.data_quality``."""
    checker = RowChecker(path.name, "outcome", max_bad_share=max_bad_share)
    rows: list[tuple[str, str, float]] = []
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {path.name}: {type(exc).__name__}") from None
    with fh:
        reader = csv.DictReader(fh)
        missing = {"student_id", "arm", "outcome"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{path.name} is missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            line = reader.line_num
            student, arm = (row.get("student_id") or "").strip(), (row.get("arm") or "").strip()
            if not student or not arm:
                checker.bad(line, "empty student_id or arm")
                continue
            try:
                value = float(row.get("outcome") or "")
            except ValueError:
                checker.bad(line, "'outcome' must be a number")
                continue
            if not math.isfinite(value):
                checker.bad(line, "'outcome' must be finite")
                continue
            checker.good()
            rows.append((student, arm, value))
    return rows, checker.finish()


def analyze_file(path: Path, *, control: str | None, method: str) -> dict[str, Any]:
    from readloom.mlops.experiments import analyze_arms, per_student

    rows, report = read_outcomes(path, get_settings().import_max_bad_share)
    arms = list(dict.fromkeys(arm for _, arm, _ in rows))
    if len(arms) < 2:
        raise InputError(f"{path.name}: need at least two arms, found {len(arms)}")
    control = control or ("control" if "control" in arms else arms[0])
    if control not in arms:
        raise InputError(f"control arm '{control}' is not in the data")
    ordered = [control] + [a for a in arms if a != control]
    values = per_student(rows)
    comparisons = analyze_arms(values, ordered, method=method)
    if not comparisons:
        raise InputError("each arm needs at least two students")
    out: dict[str, Any] = {
        "control": control,
        "students": {a: len(values.get(a, [])) for a in ordered},
        "bad_rows": [b.model_dump() for b in report.bad_rows],
        "comparisons": comparisons,
    }
    if len(comparisons) == 1:  # two arms: the figures at the top level
        c = comparisons[0]
        out |= {k: c[k] for k in ("effect", "ci_low", "ci_high", "p_value", "method",
                                  "standardized_effect")}  # fmt: skip
    return out


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _with_db(fn: Any, *, write: bool = False) -> Any:
    from readloom.storage.db import Database, migrate

    settings = get_settings()
    migrate(settings)
    db = Database(settings)
    try:
        ctx = db.writer() if write else db.reader()
        async with ctx as s:
            return await fn(s)
    finally:
        await db.dispose()


def register_ops(main: click.Group) -> None:
    from readloom.cli import _clean_errors

    @main.group()
    def experiment() -> None:
        """Compare prompts, providers or tutoring policies on learning outcomes."""

    @experiment.command("create")
    @click.option("--tenant", required=True)
    @click.option("--name", required=True)
    @click.option("--factor", type=click.Choice(["prompt", "provider", "policy"]), required=True)
    @click.option("--arm", "arms", multiple=True, required=True,
                  help='NAME or NAME=JSON config, e.g. treat=\'{"prompt": "tutor_reply@v2"}\' '
                       "(the first arm is the control)")  # fmt: skip
    @click.option("--metric", default="next_attempt_correct")
    @click.option("--baseline", type=float, default=0.5)
    @click.option("--mde", type=float, default=0.10, help="Smallest effect worth detecting")
    @FORMAT
    @_clean_errors
    def experiment_create(tenant, name, factor, arms, metric, baseline, mde, fmt) -> None:
        from pydantic import ValidationError

        from readloom.mlops import experiments
        from readloom.mlops.experiments import ExperimentIn

        parsed = []
        for spec in arms:
            arm, _, config = spec.partition("=")
            try:
                parsed.append({"name": arm, "config": json.loads(config) if config else {}})
            except ValueError:
                raise InputError(f"--arm {arm}: config is not JSON") from None
        try:
            body = ExperimentIn(name=name, factor=factor, arms=parsed, metric=metric,
                                baseline=baseline, mde=mde)  # fmt: skip
        except ValidationError as exc:
            from readloom.mlops.data_quality import pydantic_reason

            raise InputError(pydantic_reason(exc)) from None

        async def go(s: Any) -> dict[str, Any]:
            from readloom.storage.models import Tenant

            if await s.get(Tenant, tenant) is None:
                raise InputError(f"unknown tenant '{tenant}'")
            exp = await experiments.create(s, tenant, body)
            return {"id": exp.id, "planned_students_per_arm": experiments.horizon(exp)}

        out = _run(_with_db(go, write=True))
        click.echo(json.dumps(out) if fmt == "json" else
                   f"{out['id']} (plan: {out['planned_students_per_arm']} students per arm)")  # fmt: skip

    @experiment.command("report")
    @click.argument("experiment_id")
    @FORMAT
    @_clean_errors
    def experiment_report(experiment_id: str, fmt: str) -> None:
        """Effect sizes, confidence intervals and the test, per metric."""
        from readloom.mlops import experiments

        out = _run(_with_db(lambda s: experiments.report(s, None, experiment_id)))
        if fmt == "json":
            click.echo(json.dumps(out, indent=2))
            return
        click.echo(f"{out['id']} {out['name']} ({out['factor']}): {out['verdict']}")
        for metric, m in out["metrics"].items():
            click.echo(f"  {metric}: students {m['students']}")
            for c in m["comparisons"]:
                click.echo(
                    f"    {c['treatment']} - {c['control']}: {c['effect']:+.4f} "
                    f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] p={c['p_value']:.4f} "
                    f"({c['method']})"
                )

    @experiment.command("analyze")
    @click.option("--data", required=True, type=click.Path(exists=True, path_type=Path),
                  help="CSV with columns student_id, arm, outcome (0/1 or a number)")  # fmt: skip
    @click.option("--control", default=None, help="Control arm (default: 'control' or first)")
    @click.option("--method", type=click.Choice(["auto", "barnard", "z", "welch", "bootstrap"]),
                  default="auto")  # fmt: skip
    @FORMAT
    @_clean_errors
    def experiment_analyze(data: Path, control: str | None, method: str, fmt: str) -> None:
        """The experiment statistics on any export of outcomes."""
        out = analyze_file(data, control=control, method=method)
        if fmt == "json":
            click.echo(json.dumps(out, indent=2))
            return
        for c in out["comparisons"]:
            click.echo(
                f"{c['treatment']} - {c['control']}: effect {c['effect']:+.4f} 95% CI "
                f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] p={c['p_value']:.4g} ({c['method']})"
            )

    from readloom.mlops.cli_monitor import register_monitor

    register_monitor(main)
