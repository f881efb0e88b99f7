"""Where a run's figures come from: commit, prompt versions, providers, data hashes."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from evalkit.model import DatasetRef

REPO_ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_info() -> dict[str, object]:
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def prompt_versions() -> dict[str, str]:
    """``name -> name@vN`` for every released prompt, as the loader resolves it."""
    from readloom.prompts.loader import PROMPTS_DIR, load_prompt

    refs: dict[str, str] = {}
    for folder in sorted(p for p in PROMPTS_DIR.iterdir() if p.is_dir()):
        if any(folder.glob("v*.yaml")):
            refs[folder.name] = load_prompt(folder.name).ref
    return refs


def runtime_info() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        readloom_version = version("readloom")
    except PackageNotFoundError:
        readloom_version = "unknown"
    return {
        "readloom": readloom_version,
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
    }


REPO_ROOT = Path(__file__).resolve().parents[2]


def display_path(path: Path) -> str:
    """A path as a reader of the report knows it: relative to the repository (datasets beside
    it show as ``../shared/…``), so reports do not carry one machine's layout."""
    path = Path(path).resolve()
    for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "../")):
        if path.is_relative_to(base):
            return prefix + str(path.relative_to(base))
    return str(path)


@lru_cache(maxsize=256)
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_files(paths: Iterable[Path], root: Path) -> str:
    """One digest over several files: their paths relative to ``root`` and their digests."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(f"{p.relative_to(root).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def dataset(
    name: str, path: Path, *, files: Iterable[Path] | None = None, records: int | None = None,
    subset: str | None = None,
) -> DatasetRef:  # fmt: skip
    """Describe a file, or a folder (``files`` of it, default all), with its hash."""
    path = path.resolve()
    if path.is_dir():
        chosen = list(files) if files is not None else [p for p in path.rglob("*") if p.is_file()]
        digest = sha256_files([p.resolve() for p in chosen], path)
    else:
        digest = sha256_file(path)
    return DatasetRef(
        name=name, path=display_path(path), sha256=digest, records=records, subset=subset
    )
