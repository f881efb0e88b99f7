"""``readloom db upgrade`` and ``readloom db status``: the one database's schema and the
import of an earlier release's store files (also run automatically at every start)."""

from __future__ import annotations

import json

import click

from readloom.settings import get_settings


def register(group: click.Group) -> None:
    group.add_command(db)


@click.group()
def db() -> None:
    """The database: migrations and upgrade in place."""


@db.command("upgrade")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def upgrade(fmt: str) -> None:
    """Migrate to the latest schema and copy in any store files of an earlier release."""
    from readloom.storage.db import migrate
    from readloom.storage.legacy import import_legacy, legacy_files

    settings = get_settings()
    waiting = [str(p.relative_to(settings.home)) for p in legacy_files(settings.home)]
    migrate(settings, "head")
    imported = import_legacy(settings)  # normally already done by migrate; reports leftovers
    out = {"revision": _head(settings), "legacy_files": waiting, "imported": imported}
    if fmt == "json":
        click.echo(json.dumps(out))
        return
    click.echo(f"schema at {out['revision']}")
    for name in waiting:
        click.echo(f"imported {name} (kept as {name}.imported)")


@db.command("status")
def status() -> None:
    """The schema revision and any store files still waiting to be imported."""
    from readloom.storage.legacy import legacy_files

    settings = get_settings()
    click.echo(f"schema at {_head(settings)}")
    for path in legacy_files(settings.home):
        click.echo(f"waiting: {path.name} (run: readloom db upgrade)")


def _head(settings: object) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from readloom.storage.db import sync_engine

    engine = sync_engine(settings)  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
