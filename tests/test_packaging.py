"""Every folder the installed package needs is declared in pyproject.toml.

A folder setuptools does not know about (a new prompt folder, say) makes ``pip install``
print a long "Package … is absent from the `packages` configuration" warning on every
fresh set-up, and a non-editable install would leave its files out."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_SHIPPED = {"tests", "evals", "readloom.egg-info", "build", "dist"}


def _shipped_folders() -> set[str]:
    found = set()
    for path in ROOT.rglob("*"):
        if not path.is_file() or path.suffix == ".pyc":
            continue
        parts = path.relative_to(ROOT).parts[:-1]
        if not parts or parts[0] in NOT_SHIPPED or any(p.startswith((".", "__")) for p in parts):
            continue
        found.add(".".join(("readloom", *parts)))
    return found


def test_every_folder_with_files_is_a_declared_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"readloom": "."}
    missing = _shipped_folders() - set(config["packages"])
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
