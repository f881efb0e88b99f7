"""``readloom monitor`` and ``readloom audit fairness``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from readloom.settings import get_settings

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")


def register_monitor(main: click.Group) -> None:
    from readloom.cli import _clean_errors

    @main.command("monitor")
    @click.option("--reference", type=click.Path(exists=True, path_type=Path),
                  help="Reference window as JSON Lines events (default: the database)")  # fmt: skip
    @click.option("--current", type=click.Path(exists=True, path_type=Path),
                  help="Current window as JSON Lines events")  # fmt: skip
    @click.option("--days", type=int, default=1, show_default=True,
                  help="Current window: the last N days (database)")  # fmt: skip
    @click.option("--reference-days", type=int, default=28, show_default=True,
                  help="Reference window: the N days before the current one")  # fmt: skip
    @click.option("--tenant", default=None)
    @FORMAT
    @_clean_errors
    def monitor(reference, current, days, reference_days, tenant, fmt) -> None:
        """Drift of inputs, outputs and calibration; exits 1 when a threshold is crossed."""
        from readloom.mlops import monitor as mon
        from readloom.observability.instruments import publish_drift
        from readloom.observability.tracing import instruments

        settings = get_settings()
        share = settings.import_max_bad_share
        if (reference is None) != (current is None):
            raise click.UsageError("give both --reference and --current, or neither")
        if reference is not None:
            ref_events = mon.read_events(reference, max_bad_share=share)
            cur_events = mon.read_events(current, max_bad_share=share)
            report = mon.compare(mon.Window().extend(ref_events), mon.Window().extend(cur_events))
            report["events"] = {"reference": len(ref_events), "current": len(cur_events)}
        else:
            from readloom.tools.mastery import MasteryStore

            store = MasteryStore(settings)
            try:
                report = mon.report_from_db(settings, days=days, reference_days=reference_days,
                                            tenant=tenant, store=store)  # fmt: skip
            finally:
                store.close()
        instruments()  # the gauges exist on the configured meter provider
        publish_drift(report["features"])
        from opentelemetry import metrics

        flush = getattr(metrics.get_meter_provider(), "force_flush", None)
        if flush:
            flush()
        if fmt == "json":
            click.echo(json.dumps(report, indent=2))
        else:
            if not report["features"]:
                n = report["events"]
                click.echo(f"no events in the windows ({n['reference']} reference, "
                           f"{n['current']} current)")  # fmt: skip
            for f in report["features"]:
                stat = " ".join(
                    f"{k}={f[k]:.4g}" for k in ("psi", "ks_d", "reference", "current")
                    if f.get(k) is not None
                )  # fmt: skip
                mark = "DRIFT" if f["drifted"] else "ok"
                click.echo(f"{mark:<5} {f['feature']:<24} {stat} {f.get('reason') or ''}")
        if report["drifted"]:
            click.echo(f"drift: {', '.join(report['drifted'])}", err=True)
            sys.exit(1)

    @main.group()
    def audit() -> None:
        """Audits of how equally readloom protects and serves every child."""

    @audit.command("fairness")
    @click.option("--out", type=click.Path(path_type=Path), default=Path("fairness-audit"),
                  show_default=True, help="Folder for the report (JSON, Markdown, PNG plots)")  # fmt: skip
    @click.option("--attributes", type=click.Path(exists=True, path_type=Path),
                  help="Optional partner-supplied CSV: student_id, attribute, value")  # fmt: skip
    @FORMAT
    @_clean_errors
    def audit_fairness(out: Path, attributes: Path | None, fmt: str) -> None:
        """PII recall per name origin, grading parity across spellings and dialects,
        recommendation parity and concentration; exits 1 when a goal is missed."""
        from readloom.mlops.fairness import run_audit

        report = run_audit(get_settings(), out=out, attributes=attributes)
        if fmt == "json":
            click.echo(json.dumps(report, indent=2))
        else:
            for goal in report["goals"]:
                mark = "ok" if goal["met"] else "MISSED"
                click.echo(f"{mark:<6} {goal['name']}: {goal['value']:.4f} (goal {goal['goal']})")
            click.echo(f"report: {out / 'fairness.md'}")
        if not all(g["met"] for g in report["goals"]):
            sys.exit(1)
