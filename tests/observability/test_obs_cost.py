"""The cost report reads the real usage ledger: per student-month and per 1,000 requests,
by tenant and provider, against the targets in settings; ``readloom report cost``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import click
import pytest
from click.testing import CliRunner

from readloom.llm.base import Usage
from readloom.llm.usage import UsageLedger
from readloom.observability.cli import register
from readloom.observability.cost import cost_report, render_text
from readloom.settings import Settings, get_settings

SEPT = datetime(2026, 9, 15, 12, tzinfo=UTC).timestamp()
OCT = datetime(2026, 10, 3, 9, tzinfo=UTC).timestamp()

# (ts, tenant, provider, model, student, cost, cached)
CALLS = [
    (SEPT, "district-a", "openai", "gpt-4o-mini", "s1", 0.01, False),
    (SEPT, "district-a", "openai", "gpt-4o-mini", "s1", 0.01, False),
    (SEPT, "district-a", "openai", "gpt-4o-mini", "s2", 0.02, False),
    (SEPT, "district-a", "openai", "gpt-4o-mini", None, 0.03, False),  # a teacher's set
    (SEPT, "district-a", "openai", "gpt-4o-mini", "s2", 0.0, True),
    (SEPT, "district-a", "offline", "offline-rules-v1", "s1", 0.0, False),
    (SEPT, "district-a", "offline", "offline-rules-v1", "s1", 0.0, False),
    (OCT, "district-a", "anthropic", "claude-haiku-4-5", "s1", 0.05, False),
    (OCT, "district-b", "offline", "offline-rules-v1", "s3", 0.0, False),
    (OCT, "district-b", "offline", "offline-rules-v1", "s3", 0.0, False),
]


def _fill(settings: Settings) -> None:
    path = UsageLedger.from_settings(settings).path
    for ts, tenant, provider, model, student, cost, cached in CALLS:
        ledger = UsageLedger(path, clock=lambda ts=ts: ts)
        ledger.record(
            tenant=tenant, provider=provider, model=model, prompt_id="tutor_reply@v1",
            usage=Usage(input_tokens=100, output_tokens=20) if not cached else Usage(),
            cost_usd=cost, cached=cached, student_id=student,
        )  # fmt: skip
        ledger.close()


@pytest.fixture
def settings() -> Settings:
    s = get_settings()  # READLOOM_HOME is a fresh tmp dir per test
    _fill(s)
    return s


def test_costs_per_student_month_and_per_1k_requests(settings):
    report = cost_report(settings)
    a, b = report.tenants
    assert (a.tenant, a.months) == ("district-a", ["2026-09", "2026-10"])
    assert (a.requests, a.cached_requests, a.student_months) == (8, 1, 3)  # s1 Sep, s2 Sep, s1 Oct
    assert a.cost_usd == pytest.approx(0.12)
    assert a.cost_per_student_month == pytest.approx(0.04)
    assert a.cost_per_1k_requests == pytest.approx(15.0)
    assert a.within_student_target is True and a.within_request_target is False
    by_provider = {p.provider: p for p in a.providers}
    assert by_provider["openai"].requests == 5 and by_provider["openai"].cost_usd == pytest.approx(
        0.07
    )
    assert by_provider["anthropic"].cost_per_student_month == pytest.approx(0.05 / 3, abs=1e-6)
    assert by_provider["offline"].cost_per_1k_requests == 0.0
    assert sum(p.cost_per_student_month for p in a.providers) == pytest.approx(
        a.cost_per_student_month
    )
    assert (b.tenant, b.requests, b.student_months, b.cost_usd) == ("district-b", 2, 1, 0.0)
    assert report.total.requests == 10 and report.total.student_months == 4
    assert report.target_cost_per_student_month == 2.50
    assert report.target_cost_per_1k_requests == 0.15


def test_since_and_tenant_filters(settings):
    october = cost_report(settings, since=date(2026, 10, 1))
    assert [(t.tenant, t.requests, t.cost_usd) for t in october.tenants] == [
        ("district-a", 1, 0.05),
        ("district-b", 2, 0.0),
    ]
    september = cost_report(settings, until=date(2026, 10, 1), tenant="district-a")
    assert [(t.tenant, t.requests) for t in september.tenants] == [("district-a", 7)]


def test_text_report_names_tenants_and_providers_never_students(settings):
    text = render_text(cost_report(settings))
    assert "district-a (2026-09, 2026-10)" in text and "  anthropic" in text
    assert "$0.0400 ok" in text and "$15.0000 OVER" in text
    assert "s1" not in text.split() and "s3" not in text


def test_cli_report_cost_json_and_text(settings):
    group = click.Group()
    register(group)
    runner = CliRunner()
    out = runner.invoke(group, ["report", "cost", "--since", "2026-10-01", "--format", "json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["since"] == "2026-10-01"
    assert [t["tenant"] for t in payload["tenants"]] == ["district-a", "district-b"]
    assert payload["tenants"][0]["providers"][0]["provider"] == "anthropic"
    text = runner.invoke(group, ["report", "cost"])
    assert text.exit_code == 0 and "per student-month" in text.output
    bad = runner.invoke(group, ["report", "cost", "--since", "last week"])
    assert bad.exit_code == 2


def test_empty_ledger_reports_no_usage(tmp_path):
    report = cost_report(Settings(home=tmp_path / "fresh"))
    assert report.tenants == [] and report.total.requests == 0
    assert "(no model usage recorded)" in render_text(report)
