"""``readloom report cost``; the lead's CLI group calls ``register(group)`` to add it."""

from __future__ import annotations

import json
from datetime import date, datetime

import click

from readloom.settings import get_settings


def register(group: click.Group) -> None:
    group.add_command(report)


@click.group()
def report() -> None:
    """Operational reports (model spend)."""


def _day(_: click.Context, __: click.Parameter, value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@report.command("cost")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), callback=_day,
    help="First day included (UTC), e.g. 2026-09-01.",
)  # fmt: skip
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), callback=_day,
    help="First day excluded (UTC).",
)  # fmt: skip
@click.option("--tenant", default=None, help="Only this tenant.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def cost(since: date | None, until: date | None, tenant: str | None, fmt: str) -> None:
    """Model cost per student per month and per 1,000 requests, by tenant and provider,
    against the targets in settings."""
    from readloom.observability.cost import as_json, cost_report, render_text

    result = cost_report(get_settings(), since=since, until=until, tenant=tenant)
    click.echo(json.dumps(as_json(result), indent=2) if fmt == "json" else render_text(result))
