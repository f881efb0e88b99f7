"""Commands that operate the models: ``readloom models …``, ``readloom mastery refit``,
``readloom experiment …``, ``readloom monitor`` and ``readloom audit fairness``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from readloom.settings import get_settings

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def register(main: click.Group) -> None:
    from readloom.cli import _clean_errors

    @main.group()
    def models() -> None:
        """The model registry: versions, stages, promotion, rollback and lineage."""

    @models.command("list")
    @click.option("--name", default=None, help="Only this model (mastery, injection, readability)")
    @FORMAT
    @_clean_errors
    def models_list(name: str | None, fmt: str) -> None:
        """Every registered version with its stage, data digest, code commit and metrics."""
        from readloom.mlops.registry import Registry
        from readloom.mlops.shipped import ensure_shipped

        settings = get_settings()
        registry = Registry(settings)
        ensure_shipped(settings, registry)
        records = registry.list(name)
        if fmt == "json":
            _echo_json(
                [
                    {
                        "name": r.name,
                        "version": r.version,
                        "stage": r.stage,
                        "data_sha256": r.data_sha256,
                        "code_commit": r.code_commit,
                        "metrics": r.metrics,
                        "created_at": r.created_at.isoformat(),
                        "note": r.note,
                    }  # fmt: skip
                    for r in records
                ]
            )
            return
        for r in records:
            auc = r.metrics.get("heldout", {}).get("auc") if r.name == "mastery" else None
            click.echo(
                f"{r.ref:<18} {r.stage:<10} data={str(r.data_sha256)[:12]:<12} "
                f"code={r.code_commit[:12]:<12}" + (f" auc={auc}" if auc is not None else "")
            )

    @models.command("promote")
    @click.argument("ref")
    @FORMAT
    @_clean_errors
    def models_promote(ref: str, fmt: str) -> None:
        """Make NAME@vN the production version (the current one is archived)."""
        from readloom.mlops.registry import Registry, parse_ref

        name, version, _ = parse_ref(ref)
        if version is None:
            raise click.UsageError("promote takes NAME@vN")
        rec = Registry(get_settings()).promote(name, version)
        _echo_json(rec.model_dump(mode="json")) if fmt == "json" else click.echo(
            f"{rec.ref} is now production"
        )

    @models.command("rollback")
    @click.argument("name")
    @FORMAT
    @_clean_errors
    def models_rollback(name: str, fmt: str) -> None:
        """Restore the version that was production before the current one."""
        from readloom.mlops.registry import Registry

        rec = Registry(get_settings()).rollback(name)
        _echo_json(rec.model_dump(mode="json")) if fmt == "json" else click.echo(
            f"rolled back: {rec.ref} is production again"
        )

    @models.command("trace")
    @click.argument("target")
    @FORMAT
    @_clean_errors
    def models_trace(target: str, fmt: str) -> None:
        """Trace an output (a JSON file, '-' for stdin) or NAME@vN to model version, code
        commit and training-data digest."""
        from readloom.mlops.registry import Registry
        from readloom.mlops.shipped import ensure_shipped
        from readloom.mlops.trace import trace

        settings = get_settings()
        registry = Registry(settings)
        ensure_shipped(settings, registry)
        out = trace(registry, target)
        if fmt == "json":
            _echo_json(out)
            return
        for m in out["models"]:
            if not m["registered"]:
                click.echo(f"{m['ref']}: not registered ({m['note']})")
                continue
            click.echo(
                f"{m['ref']} [{m['stage']}] -> code {m['code_commit']} -> data "
                f"sha256:{m['data_sha256']}"
            )
        for p in out["prompts"]:
            click.echo(f"{p['ref']} -> prompt file sha256:{p.get('file_sha256', 'missing')}")

    mastery = main.commands["mastery"]
    assert isinstance(mastery, click.Group)

    @mastery.command("refit")
    @click.option("--data", "csvs", multiple=True, type=click.Path(exists=True, path_type=Path),
                  help="Response CSV(s) to add to the app's graded attempts")  # fmt: skip
    @click.option("--xapi", multiple=True, type=click.Path(exists=True, path_type=Path),
                  help="xAPI statements (JSON array or JSONL) to add")  # fmt: skip
    @click.option("--tolerance", type=float, default=None,
                  help="AUC a refit may lose and still be promoted (default: setting)")  # fmt: skip
    @FORMAT
    @_clean_errors
    def mastery_refit(
        csvs: tuple[Path, ...], xapi: tuple[Path, ...], tolerance: float | None, fmt: str
    ) -> None:
        """Refit BKT on recent responses; promote only if not worse on a held-out slice."""
        from readloom.mlops.mastery_ops import refit
        from readloom.tools.mastery import MasteryStore

        settings = get_settings()
        store = MasteryStore(settings)
        try:
            out = refit(settings, store=store, csvs=list(csvs), xapi=list(xapi),
                        tolerance=tolerance)  # fmt: skip
        finally:
            store.close()
        if fmt == "json":
            _echo_json(out)
            return
        verdict = "promoted" if out["promoted"] else "kept production"
        click.echo(
            f"mastery@v{out['version']}: {verdict} ({out['reason']}); held-out AUC "
            f"{out['candidate']['auc']} vs production {out['production']['auc']}"
        )

    from readloom.mlops.cli_ops import register_ops

    register_ops(main)
