"""The cost report: model spend per student per month and per 1,000 requests, set against
the product's targets (``settings.target_cost_per_student_month``,
``settings.target_cost_per_1k_requests``).

Read from the usage ledger (``llm/usage.py``: one row per gate call, cached calls at $0)
through ``UsageLedger.grouped`` (the one database, SQLite or Postgres). Definitions, so the
numbers can be checked by hand:

- a *request* is one ML inference request through the gate (one ledger row, cached or not);
- a *student-month* is one student with at least one request in a calendar month (UTC);
  calls with no student (a teacher's question set) cost money but add no student;
- *cost per student per month* = cost / student-months, for a tenant and for each of its
  providers (so the providers' figures add up to the tenant's);
- *cost per 1,000 requests* = 1000 × cost / requests.

Student ids are only ever counted, never shown.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from readloom.llm.usage import UsageLedger
from readloom.settings import Settings


class CostLine(BaseModel):
    requests: int = 0
    cached_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    student_months: int = 0
    cost_per_student_month: float | None = None
    cost_per_1k_requests: float | None = None
    within_student_target: bool | None = None
    within_request_target: bool | None = None


class ProviderCost(CostLine):
    provider: str


class TenantCost(CostLine):
    tenant: str
    months: list[str] = Field(default_factory=list)
    providers: list[ProviderCost] = Field(default_factory=list)


class CostReport(BaseModel):
    since: date | None = None
    until: date | None = None
    target_cost_per_student_month: float
    target_cost_per_1k_requests: float
    total: CostLine
    tenants: list[TenantCost] = Field(default_factory=list)


def _ts(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _rows(
    ledger: UsageLedger, since: date | None, until: date | None, tenant: str | None
) -> list[tuple]:
    return ledger.grouped(
        since_ts=_ts(since) if since is not None else None,
        until_ts=_ts(until) if until is not None else None,
        tenant=tenant,
    )


def _finish(line: CostLine, settings: Settings) -> None:
    if line.student_months:
        line.cost_per_student_month = round(line.cost_usd / line.student_months, 6)
        line.within_student_target = (
            line.cost_per_student_month <= settings.target_cost_per_student_month
        )
    if line.requests:
        line.cost_per_1k_requests = round(1000 * line.cost_usd / line.requests, 6)
        line.within_request_target = (
            line.cost_per_1k_requests <= settings.target_cost_per_1k_requests
        )
    line.cost_usd = round(line.cost_usd, 6)


def _add(line: CostLine, row: tuple) -> None:
    line.requests += row[4]
    line.cached_requests += row[5]
    line.input_tokens += row[6]
    line.output_tokens += row[7]
    line.cost_usd += row[8]


def cost_report(
    settings: Settings,
    *,
    since: date | None = None,
    until: date | None = None,
    tenant: str | None = None,
    ledger_path: Path | None = None,
) -> CostReport:
    ledger = UsageLedger(ledger_path) if ledger_path is not None else UsageLedger(settings)
    rows = _rows(ledger, since, until, tenant)
    report = CostReport(
        since=since,
        until=until,
        target_cost_per_student_month=settings.target_cost_per_student_month,
        target_cost_per_1k_requests=settings.target_cost_per_1k_requests,
        total=CostLine(),
    )
    tenants: dict[str, TenantCost] = {}
    providers: dict[tuple[str, str], ProviderCost] = {}
    student_months: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in rows:
        name, provider, month, student = row[0], row[1], row[2], row[3]
        t = tenants.setdefault(name, TenantCost(tenant=name))
        p = providers.setdefault((name, provider), ProviderCost(provider=provider))
        _add(t, row)
        _add(p, row)
        _add(report.total, row)
        if month not in t.months:
            t.months.append(month)
        if student is not None:
            student_months[name].add((student, month))
    for name, t in sorted(tenants.items()):
        t.student_months = len(student_months[name])
        t.months.sort()
        for (tenant_name, _), p in sorted(providers.items()):
            if tenant_name == name:
                p.student_months = t.student_months
                _finish(p, settings)
                t.providers.append(p)
        _finish(t, settings)
        report.tenants.append(t)
    report.total.student_months = sum(t.student_months for t in report.tenants)
    _finish(report.total, settings)
    return report


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else (" ok" if ok else " OVER")


def render_text(report: CostReport) -> str:
    span = f"since {report.since}" if report.since else "all time"
    if report.until:
        span += f" until {report.until}"
    lines = [
        f"LLM cost, {span}. Targets: ${report.target_cost_per_student_month:.2f} per student "
        f"per month, ${report.target_cost_per_1k_requests:.2f} per 1,000 requests.",
        "",
        f"{'tenant (months) / provider':36} {'requests':>9} {'cached':>7} {'stu-mo':>7} {'tokens in':>10} "
        f"{'tokens out':>10} {'cost':>11} {'per student-month':>22} {'per 1k requests':>20}",
    ]

    def row(label: str, line: CostLine) -> str:
        return (
            f"{label[:36]:36} {line.requests:>9} {line.cached_requests:>7} "
            f"{line.student_months:>7} {line.input_tokens:>10} {line.output_tokens:>10} "
            f"{_money(line.cost_usd):>11} "
            f"{_money(line.cost_per_student_month) + _mark(line.within_student_target):>22} "
            f"{_money(line.cost_per_1k_requests) + _mark(line.within_request_target):>20}"
        )

    for t in report.tenants:
        lines.append(row(f"{t.tenant} ({', '.join(t.months)})", t))
        lines.extend(row(f"  {p.provider}", p) for p in t.providers)
    if not report.tenants:
        lines.append("(no model usage recorded)")
    lines += ["", row("all tenants", report.total)]
    return "\n".join(lines)


def as_json(report: CostReport) -> dict[str, Any]:
    return report.model_dump(mode="json")
