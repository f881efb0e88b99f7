"""``readloom models trace``: from an output (or a model reference) to model version,
code commit and training-data digest.

An output is any JSON readloom returned (a tutor reply, a question set, a mastery or
recommendation response): its ``provenance.models`` names the models (``name@vN``) and
``provenance.prompt`` the prompt (``id@vN``, whose file digest is shown as well)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from readloom.errors import InputError, NotFound
from readloom.mlops.provenance import sha256_files
from readloom.mlops.registry import Registry, parse_ref
from readloom.prompts.loader import PROMPTS_DIR


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def refs_in(document: Any) -> tuple[list[str], list[str]]:
    """(model refs, prompt refs) named anywhere in an output's provenance."""
    models: list[str] = []
    prompts: list[str] = []
    for key, value in _walk(document):
        if key == "models" and isinstance(value, dict):
            models += [str(v) for v in value.values() if isinstance(v, str)]
        elif key == "prompt" and isinstance(value, str) and "@v" in value:
            prompts.append(value)
    return sorted(set(models)), sorted(set(prompts))


def _prompt(ref: str) -> dict[str, Any]:
    name, _, version = ref.partition("@v")
    path = PROMPTS_DIR / name / f"v{version}.yaml"
    if not path.is_file():
        return {"ref": ref, "found": False}
    return {"ref": ref, "found": True, "file_sha256": sha256_files([path])}


def trace(registry: Registry, target: str) -> dict[str, Any]:
    """``target``: a model ref (``mastery@v3``), a JSON file, or ``-`` for stdin."""
    if "@" in target and not Path(target).exists():
        if not target.endswith("@default"):
            parse_ref(target)
        models, prompts = [target], []
    else:
        import sys

        try:
            raw = sys.stdin.read() if target == "-" else Path(target).read_text(encoding="utf-8")
            document = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read an output from {target}: {type(exc).__name__}") from None
        models, prompts = refs_in(document)
        if not models and not prompts:
            raise InputError("the output carries no provenance (no 'models' or 'prompt' entry)")
    lineage = []
    for ref in models:
        if ref.endswith("@default"):
            lineage.append({"ref": ref, "registered": False, "note": "default parameters"})
            continue
        try:
            rec = registry.find(ref)
        except NotFound as exc:
            lineage.append({"ref": ref, "registered": False, "note": exc.message})
            continue
        lineage.append(
            {
                "ref": ref, "registered": True, "name": rec.name, "version": rec.version,
                "stage": rec.stage, "code_commit": rec.code_commit,
                "data_sha256": rec.data_sha256, "artifact_sha256": rec.artifact_sha256,
                "training": rec.training, "metrics": rec.metrics,
                "created_at": rec.created_at.isoformat(),
            }
        )  # fmt: skip
    return {"models": lineage, "prompts": [_prompt(p) for p in prompts]}
