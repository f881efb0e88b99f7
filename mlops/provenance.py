"""Lineage facts: the running code's commit, data digests, and the model versions that
an output was made with (the ``models`` entry of every reply's provenance)."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from readloom.settings import PACKAGE_DATA, REPO_ROOT, Settings

log = logging.getLogger(__name__)

SHIPPED = {
    "injection": PACKAGE_DATA / "injection_model.json",
    "readability": PACKAGE_DATA / "readability_model.json",
}
MASTERY_FILE = "mastery_model.json"  # what MasteryStore loads from READLOOM_HOME
_CACHE_S = 30.0


@lru_cache(maxsize=1)
def _git_commit() -> str | None:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                check=True,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + ("+dirty" if dirty else "")


def code_commit(settings: Settings) -> str:
    """The git commit of this checkout (``+dirty`` with local edits), else the build's
    ``READLOOM_CODE_COMMIT``, else the package version."""
    found = _git_commit() or settings.code_commit
    if found:
        return found
    from readloom import __version__

    return f"release-{__version__}"


def sha256_files(paths: Iterable[Path]) -> str:
    """One digest over files' bytes, in path order (name included, so a rename counts)."""
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        h.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def sha256_json(value: Any) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@lru_cache(maxsize=8)
def _file_digest(path: Path, mtime: float) -> str:
    """An artifact's digest is of its bytes alone (a copy elsewhere is the same model)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_digest(path: Path) -> str | None:
    try:
        return _file_digest(path, path.stat().st_mtime)
    except OSError:
        return None


_active: tuple[float, str, dict[str, str]] | None = None


def active_models(settings: Settings) -> dict[str, str]:
    """``name -> name@vN`` of each model serving now (``name@sha256:<12 hex>`` for an
    artifact the registry has not recorded; ``mastery@default`` before any fit).

    Read from the registry at most every 30 s; provenance is never a reason to fail a
    reply, so a registry error falls back to artifact digests."""
    global _active
    key = str(settings.home)
    now = time.monotonic()
    if _active is not None and _active[1] == key and now - _active[0] < _CACHE_S:
        return dict(_active[2])
    refs: dict[str, str] = {}
    mastery = settings.home / MASTERY_FILE
    try:
        info = json.loads(mastery.read_text(encoding="utf-8")).get("info", {})
        version = info.get("registry_version")
        refs["mastery"] = (
            f"mastery@v{version}"
            if version
            else f"mastery@sha256:{(artifact_digest(mastery) or '')[:12]}"
        )
    except (OSError, ValueError, AttributeError):
        refs["mastery"] = "mastery@default"
    digests = {name: artifact_digest(path) for name, path in SHIPPED.items()}
    try:
        from readloom.mlops.registry import Registry

        known = Registry(settings).versions_by_digest({n: d for n, d in digests.items() if d})
    except Exception as exc:  # noqa: BLE001 - lineage must not break a reply
        log.warning("active_models_registry_error type=%s", type(exc).__name__)
        known = {}
    for name, digest in digests.items():
        refs[name] = known.get(name) or f"{name}@sha256:{(digest or 'missing')[:12]}"
    _active = (now, key, refs)
    return dict(refs)


def reset_cache() -> None:
    global _active
    _active = None
