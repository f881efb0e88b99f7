"""Register the classifiers that ship inside the package (injection, readability).

Their weights are fitted by ``evals/fit_injection.py`` and ``evals/fit_readability.py``,
which register each fit with its held-out metrics (``register_fit``). On a machine that
never ran a fit, ``ensure_shipped`` records the shipped artifact once, with the training
data's digest when that data is under ``READLOOM_DATA_PATH`` and the figures the artifact
itself carries (cross-validation on the training split, labelled as such)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from readloom.mlops.provenance import SHIPPED, artifact_digest, sha256_files
from readloom.mlops.registry import ModelRecord, Registry
from readloom.settings import Settings

TRAINING_DATA = {
    "injection": [Path("deepset_prompt_injections") / "train.derived.csv"],
    "readability": [Path("clear_corpus") / "CLEAR_corpus_final.derived.csv"],
}


def training_data_sha256(settings: Settings, name: str) -> str | None:
    paths = [settings.data_path / p for p in TRAINING_DATA[name]]
    return sha256_files(paths) if all(p.is_file() for p in paths) else None


def _spec_facts(name: str, spec: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if name == "injection":
        training = {"trained_on": spec.get("trained_on"), "kind": spec.get("kind"),
                    "ngram_range": spec.get("ngram_range"), "features": len(spec.get("weights", {}))}  # fmt: skip
        return training, {"threshold": spec.get("threshold"), "source": "shipped artifact"}
    info = dict(spec.get("training", {}))
    cv = info.get("cv_spearman_by_alpha", {})
    alpha = str(spec.get("ridge_alpha"))
    training = {"ridge_alpha": spec.get("ridge_alpha"), **info}
    return training, {
        "cv_spearman_train": cv.get(alpha),
        "source": "shipped artifact (5-fold CV on the training split)",
    }


def ensure_shipped(settings: Settings, registry: Registry | None = None) -> list[ModelRecord]:
    """Register each shipped artifact the registry has not seen; returns new records."""
    registry = registry or Registry(settings)
    added = []
    for name, path in SHIPPED.items():
        digest = artifact_digest(path)
        if digest is None or name in registry.versions_by_digest({name: digest}):
            continue
        spec = json.loads(path.read_text(encoding="utf-8"))
        training, metrics = _spec_facts(name, spec)
        added.append(
            registry.register(
                name,
                artifact={"path": f"data/{path.name}", "sha256": digest},
                artifact_sha256=digest,
                data_sha256=training_data_sha256(settings, name),
                training=training,
                metrics=metrics,
                stage="production",
                note="shipped artifact, recorded on first use",
            )  # fmt: skip
        )
    return added


def register_fit(
    name: str,
    artifact: Path,
    *,
    training: Mapping[str, Any],
    metrics: Mapping[str, Any],
    settings: Settings | None = None,
) -> ModelRecord:
    """Called by a fit script after it writes ``artifact``: one production version."""
    settings = settings or Settings()
    digest = artifact_digest(artifact) or ""
    return Registry(settings).register(
        name, artifact={"path": f"data/{artifact.name}", "sha256": digest},
        artifact_sha256=digest, data_sha256=training_data_sha256(settings, name),
        training=training, metrics=metrics, stage="production", note="fitted",
    )  # fmt: skip
