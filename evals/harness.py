"""The eval runner behind ``readloom eval``.

The CLI (or ``python evals/run.py``) calls ``run_eval``; it runs the chosen suites on one
shared set of services, judges every metric against ``evals/thresholds.yaml`` and an
optional baseline report, writes the JSON report and its Markdown summary, and returns
the exit code: 0 all good, 1 a threshold failed / a metric regressed / a suite crashed,
2 the run could not start (unknown suite or provider, unusable thresholds or baseline).
"""

from __future__ import annotations

import logging
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

EVALS_DIR = Path(__file__).resolve().parent
if str(EVALS_DIR) not in sys.path:
    sys.path.insert(0, str(EVALS_DIR))

from evalkit import provenance  # noqa: E402
from evalkit.context import EvalContext  # noqa: E402
from evalkit.model import MetricRow, Report, SuiteOutput, SuiteRecord  # noqa: E402
from evalkit.report import markdown_path, write_report  # noqa: E402
from evalkit.suites import NEEDS_SERVICES, SUITES, SuiteFn, load  # noqa: E402
from evalkit.thresholds import (  # noqa: E402
    Baseline,
    ConfigError,
    judge_suite,
    load_baseline,
    load_thresholds,
    summarize,
)

THRESHOLDS_PATH = EVALS_DIR / "thresholds.yaml"
DEFAULT_REPORT = EVALS_DIR / "reports" / "latest.json"
DEFAULT_BASELINE = EVALS_DIR / "baseline.json"  # committed; compared against unless told otherwise
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("readloom.evals")


def available_suites() -> list[str]:
    return list(SUITES)


def run_eval(
    suites: Sequence[str] | None = None,
    providers: str | Sequence[str] | None = None,
    report_path: str | Path | None = None,
    baseline_path: str | Path | None = None,
    *,
    thresholds_path: str | Path | None = None,
    registry: Mapping[str, SuiteFn] | None = None,
    settings: object | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Run suites (default: all), write the report, return the exit code.

    ``suites`` may repeat or comma-separate names. ``providers`` ("offline" or
    "openai,anthropic,offline") is READLOOM_PROVIDERS for this run. Without
    ``baseline_path`` the committed ``evals/baseline.json`` is the baseline; regressions are
    gated per suite only when the baseline ran on the same effective providers and the same
    data (sha256), else deltas are shown ungated. ``registry`` replaces the built-in suites
    (tests; no default baseline then); ``settings`` is a ready Settings.
    """
    started, cpu_start = time.perf_counter(), _cpu_seconds()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # per-language noise
    table: Mapping[str, SuiteFn | None] = registry or {name: None for name in SUITES}
    names = [n.strip() for s in suites or [] for n in s.split(",") if n.strip()]
    chosen = list(dict.fromkeys(names or table))
    unknown = [s for s in chosen if s not in table]
    if unknown:
        echo(f"eval: unknown suite(s) {', '.join(unknown)}; choose from {', '.join(table)}")
        return EXIT_USAGE
    try:
        thresholds = load_thresholds(Path(thresholds_path or THRESHOLDS_PATH))
        if baseline_path is None and registry is None and DEFAULT_BASELINE.exists():
            baseline_path = DEFAULT_BASELINE
        baseline = load_baseline(Path(baseline_path)) if baseline_path else None
    except ConfigError as exc:
        echo(f"eval: {exc}")
        return EXIT_USAGE
    report_file = Path(report_path) if report_path else DEFAULT_REPORT

    with tempfile.TemporaryDirectory(prefix="readloom-eval-") as home:
        try:
            ctx = EvalContext(settings=settings or _settings(providers, Path(home)))
        except ValueError as exc:
            echo(f"eval: invalid provider selection: {exc}")
            return EXIT_USAGE
        effective = ctx.effective_providers()
        not_gated: list[str] = []
        rows: list[MetricRow] = []
        records: dict[str, SuiteRecord] = {}
        setup = _setup(ctx, chosen if registry is None else [], echo)
        for name in chosen:
            echo(f"eval: running {name} …")
            record, output = _run_one(name, table[name], ctx)
            records[name] = record
            hashes = sorted(d.sha256 for d in record.datasets)
            gated = baseline is None or baseline.comparable(effective, name, hashes)
            if not gated:
                not_gated.append(name)
            rows += judge_suite(
                name, output.metrics, thresholds.suites.get(name, {}),
                baseline.values if baseline else None,
                errored=record.status == "error", gate_regressions=gated,
            )  # fmt: skip
            echo(f"eval: {name} {record.status} in {record.seconds:.1f} s")
        summary = summarize(rows, sum(r.status == "error" for r in records.values()))
        report = Report(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            seconds=round(time.perf_counter() - started, 1),
            cpu_seconds=round(_cpu_seconds() - cpu_start, 1), setup=setup,
            provenance=_provenance(ctx, records, thresholds.version, baseline, not_gated, thresholds_path),
            suites=records, metrics=rows, summary=summary,
        )  # fmt: skip
    json_path, md_path = write_report(report, report_file)
    _echo_summary(report, echo)
    echo(f"eval: report {json_path} (summary {md_path})")
    return summary.exit_code


def _setup(ctx: EvalContext, chosen: list[str], echo: Callable[[str], None]) -> dict[str, object]:
    """Load the shared models once, before any suite, and time it on its own."""
    if not NEEDS_SERVICES & set(chosen):
        return {}
    echo("eval: loading models and stores …")
    start, cpu = time.perf_counter(), _cpu_seconds()
    try:
        ctx.services()
        error = None
    except Exception as exc:  # noqa: BLE001 - the suites that need them will each fail
        traceback.print_exc(file=sys.stderr)
        error = f"{type(exc).__name__}: {exc}"[:300]
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(_cpu_seconds() - cpu, 1),
        "error": error,
    }


def _settings(providers: str | Sequence[str] | None, home: Path) -> object:
    from readloom.settings import Settings, configure_offline_environment

    configure_offline_environment()
    # Rate limits stay at their defaults (sized for a district; the offline tier is not
    # counted). The monthly token budget protects production billing, not what evals measure.
    kwargs: dict[str, object] = {"home": home, "tenant_token_budget": 10**12}
    if providers:
        kwargs["providers"] = providers if isinstance(providers, str) else list(providers)
    return Settings(**kwargs)  # type: ignore[arg-type]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_one(name: str, fn: SuiteFn | None, ctx: EvalContext) -> tuple[SuiteRecord, SuiteOutput]:
    start, cpu = time.perf_counter(), _cpu_seconds()
    try:
        output = (fn or load(name))(ctx)
        status, error = "ok", None
    except Exception as exc:  # noqa: BLE001 - a crashing suite fails the run, others still run
        traceback.print_exc(file=sys.stderr)
        output, status, error = SuiteOutput(), "error", f"{type(exc).__name__}: {exc}"[:300]
    record = SuiteRecord(
        name=name, status=status, seconds=round(time.perf_counter() - start, 1),
        cpu_seconds=round(_cpu_seconds() - cpu, 1), error=error,
        notes=output.notes, datasets=output.datasets, models=output.models, details=output.details,
    )  # fmt: skip
    return record, output


def _provenance(
    ctx: EvalContext, records: dict[str, SuiteRecord], thresholds_version: int,
    baseline: Baseline | None, not_gated: list[str], thresholds_path: str | Path | None,
) -> dict[str, object]:  # fmt: skip
    observed: dict[str, int] = {}
    judge: dict[str, object] | None = None
    for rec in records.values():
        for key, count in rec.models.items():
            observed[key] = observed.get(key, 0) + count
        judge = rec.details.get("judge", judge)
    tpath = Path(thresholds_path or THRESHOLDS_PATH)
    prov: dict[str, object] = {
        **provenance.git_info(),
        **provenance.runtime_info(),
        "providers": list(ctx.settings.providers),
        "providers_with_keys": ctx.keyed_providers(),
        "effective_providers": ctx.effective_providers(),
        "models": ctx.configured_models(),
        "models_observed": observed,
        "judge": judge,
        "prompts": _safe(provenance.prompt_versions, {}),
        "thresholds": {"path": provenance.display_path(tpath), "version": thresholds_version,
                       "sha256": provenance.sha256_file(tpath.resolve())},
        "data_path": provenance.display_path(ctx.data_path),
        "seed": ctx.seed,
    }  # fmt: skip
    if baseline is not None:
        prov["baseline"] = {
            "path": baseline.path, "git_commit": baseline.git_commit,
            "providers": baseline.providers, "gated": not not_gated,
            "not_gated_suites": not_gated,
        }  # fmt: skip
    return prov


def _safe(fn: Callable[[], dict[str, str]], default: dict[str, str]) -> dict[str, str]:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - provenance must not sink a run
        return default


def _echo_summary(report: Report, echo: Callable[[str], None]) -> None:
    for row in report.metrics:
        if row.status in ("fail", "missing", "error") or row.regressed:
            why = "regressed" if row.status == "pass" else row.status
            echo(f"eval: {why}: {row.key} = {row.value} (threshold {row.threshold}, "
                 f"baseline {row.baseline})")  # fmt: skip
        elif row.status == "open":
            echo(f"eval: open goal: {row.key} = {row.value} (goal {row.threshold}; {row.note})")
    s = report.summary
    echo(
        f"eval: {'PASS' if s.exit_code == 0 else 'FAIL'}: {s.passed} passed, {s.failed} failed, "
        f"{s.open} open goal(s), {s.missing} missing, {s.regressed} regressed, {s.skipped} skipped"
    )


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="readloom eval", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--suite", action="append", dest="suites", help=f"one of {', '.join(available_suites())}"
    )
    parser.add_argument("--provider", dest="providers", help="READLOOM_PROVIDERS for this run")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--thresholds", type=Path, default=THRESHOLDS_PATH)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # per-language noise
    suites = [s.strip() for arg in args.suites or [] for s in arg.split(",") if s.strip()]
    return run_eval(
        suites or None, args.providers, args.report, args.baseline, thresholds_path=args.thresholds
    )


__all__ = ["available_suites", "main", "markdown_path", "run_eval"]
