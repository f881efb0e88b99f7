"""Write a run's report: JSON (the machine record) and a Markdown summary next to it."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.model import MetricRow, Report

_MARK = {"pass": "pass", "fail": "**FAIL**", "open": "open goal", "missing": "**MISSING**", "error": "**ERROR**",
         "skipped": "skipped", "info": "info"}  # fmt: skip


def markdown_path(report_path: Path) -> Path:
    return report_path.with_suffix(".md")


def write_report(report: Report, path: Path) -> tuple[Path, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = report.model_dump(mode="json", by_alias=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    md = markdown_path(path)
    md.write_text(render_markdown(report), encoding="utf-8")
    return path, md


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if value == int(value) and abs(value) >= 1:
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"


def _threshold(row: MetricRow) -> str:
    if row.threshold is None:
        return ""
    op = "≥" if row.direction == "higher" else "≤"
    tol = f" (tol {_fmt(row.tolerance)})" if row.tolerance else ""
    return f"{op} {_fmt(row.threshold)}{tol}"


def _delta(row: MetricRow) -> str:
    if row.delta is None:
        return ""
    sign = "+" if row.delta > 0 else ""
    text = f"{sign}{_fmt(row.delta)}" if row.delta else "0"
    return f"**{text} regressed**" if row.regressed else text


def render_markdown(report: Report) -> str:
    s, prov = report.summary, report.provenance
    verdict = "PASS" if s.exit_code == 0 else "FAIL"
    dirty = " (uncommitted changes)" if prov.get("git_dirty") else ""
    lines = [
        "# readloom eval report",
        "",
        f"**{verdict}** (exit {s.exit_code}): {s.passed} passed, {s.failed} failed, {s.open} open goal(s), "
        f"{s.missing} missing, {s.regressed} regressed, {s.skipped} skipped, {s.info} informational, "
        f"{s.suite_errors} suite error(s). Run took {report.seconds:.0f} s "
        f"({report.cpu_seconds or 0:.0f} s CPU{_setup(report.setup)}).",
        "",
        f"- created: {report.created_at}",
        f"- commit: `{prov.get('git_commit') or 'unknown'}`{dirty}",
        f"- providers: {', '.join(prov.get('providers', []))} "
        f"(answering: {', '.join(prov.get('effective_providers', []))}) "
        f"(models: {', '.join(f'{k}={v}' for k, v in prov.get('models', {}).items())})",
        f"- models seen in answers: {_kv(prov.get('models_observed', {}))}",
        f"- judge: {_judge(prov.get('judge'))}",
        f"- prompts: {', '.join(prov.get('prompts', {}).values())}",
        f"- thresholds: `{prov.get('thresholds', {}).get('path')}` "
        f"(version {prov.get('thresholds', {}).get('version')})",
    ]
    base = prov.get("baseline")
    if base:
        skipped = ", ".join(base.get("not_gated_suites") or [])
        gated = (
            "" if base.get("gated")
            else f" — not comparable for {skipped} (other providers or data): deltas shown, not gated"
        )  # fmt: skip
        lines.append(f"- baseline: `{base.get('path')}` (commit {base.get('git_commit')}){gated}")
    lines += ["", "## Metrics", "",
              "| suite | metric | value | n | threshold | status | baseline | Δ |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in report.metrics:
        lines.append(
            f"| {r.suite} | {r.name} | {_fmt(r.value)} | {r.n if r.n is not None else ''} | "
            f"{_threshold(r)} | {_MARK[r.status]} | {_fmt(r.baseline) if r.baseline is not None else ''} "
            f"| {_delta(r)} |"
        )
    lines += ["", "## Suites", ""]
    for name, rec in report.suites.items():
        cpu = f", {rec.cpu_seconds:.1f} s CPU" if rec.cpu_seconds is not None else ""
        lines.append(f"### {name} ({rec.status}, {rec.seconds:.1f} s{cpu})")
        lines.append("")
        if rec.error:
            lines += [f"Error: `{rec.error}`", ""]
        lines += [f"- {n}" for n in rec.notes]
        if rec.datasets:
            lines += ["", "| dataset | path | sha256 | records | subset |", "|---|---|---|---|---|"]
            for d in rec.datasets:
                lines.append(
                    f"| {d.name} | `{d.path}` | `{d.sha256[:16]}…` | "
                    f"{d.records if d.records is not None else ''} | {d.subset or ''} |"
                )
        lines.append("")
    skipped = [r for r in report.metrics if r.status == "skipped"]
    if skipped:
        lines += ["## Skipped", ""] + [f"- {r.key}: {r.note}" for r in skipped] + [""]
    return "\n".join(lines)


def _setup(setup: dict) -> str:
    if not setup:
        return ""
    return f"; loading models {setup.get('seconds', 0):.0f} s"


def _kv(d: dict) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in d.items()) or "none"


def _judge(judge: dict | None) -> str:
    if not judge:
        return "not run"
    if judge.get("skipped"):
        return f"skipped ({judge['skipped']})"
    return f"{judge.get('provider')}/{judge.get('model')} with prompt {judge.get('prompt')}"
