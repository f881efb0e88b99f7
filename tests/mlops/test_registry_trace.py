"""Registry lineage: any output traces to model version, code commit and data digest."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from readloom.cli import main
from readloom.mlops.provenance import active_models, reset_cache
from readloom.mlops.registry import Registry
from readloom.mlops.shipped import ensure_shipped
from readloom.settings import get_settings
from readloom.tools.mastery_model import BKTModel


def test_shipped_models_are_registered_once_and_resolve_in_provenance() -> None:
    settings = get_settings()
    registry = Registry(settings)
    added = ensure_shipped(settings, registry)
    assert {r.name for r in added} == {"injection", "readability"}
    assert ensure_shipped(settings, registry) == []
    reset_cache()
    refs = active_models(settings)
    assert refs == {"mastery": "mastery@default", "injection": "injection@v1",
                    "readability": "readability@v1"}  # fmt: skip
    rec = registry.get("readability", 1)
    assert rec.stage == "production" and rec.code_commit and rec.artifact_sha256


def test_trace_an_output_document(tmp_path: Path) -> None:
    settings = get_settings()
    registry = Registry(settings)
    ensure_shipped(settings, registry)
    mastery = registry.register(
        "mastery", artifact=BKTModel().to_json(), data_sha256="ab" * 32, training={"rows": 3},
        metrics={"heldout": {"auc": 0.71}}, stage="production",
    )  # fmt: skip
    reply = {"reply": "What did the fox want?", "provenance": {
        "provider": "offline", "prompt": "tutor_reply@v1",
        "models": {"mastery": mastery.ref, "injection": "injection@v1"}}}  # fmt: skip
    path = tmp_path / "reply.json"
    path.write_text(json.dumps(reply))
    res = CliRunner().invoke(main, ["models", "trace", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    by_ref = {m["ref"]: m for m in out["models"]}
    assert by_ref[mastery.ref]["data_sha256"] == "ab" * 32
    assert by_ref["injection@v1"]["registered"] and by_ref["injection@v1"]["code_commit"]
    assert out["prompts"][0]["ref"] == "tutor_reply@v1"
    bad = CliRunner().invoke(main, ["models", "trace", "mastery@vX"])
    assert bad.exit_code != 0 and "NAME@vN" in bad.output
