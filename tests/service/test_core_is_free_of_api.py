"""Structural guarantee: the application core (``service/``) never imports the HTTP layer.

``api/`` calls into ``service/``, never the other way round, so the CLI, the evals and the
workers run the same units of work without FastAPI. Imports are read with the tokenizer
scanner of ``tests/llm/test_gate_is_only_entry.py`` (deterministic: no ``ast``), so every
style is caught: ``import``, ``from``, relative, ``importlib``, and lazy imports in functions.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
BANNED = ("readloom.api",)


def _scanner() -> ModuleType:
    path = REPO / "tests" / "llm" / "test_gate_is_only_entry.py"
    spec = importlib.util.spec_from_file_location("_import_scanner", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCAN = _scanner()


def violations(root: Path) -> list[str]:
    core = root / "service"
    found = []
    for path in SCAN.source_files(core):
        for line, name in SCAN.imported(path, root):
            if SCAN.hits(name, BANNED):
                found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return sorted(set(found))


def test_service_never_imports_api():
    assert len(list(SCAN.source_files(REPO / "service"))) > 10, "the scan found no core modules"
    assert violations(REPO) == [], "the application core depends on the HTTP layer"


@pytest.mark.parametrize(
    "code",
    [
        "from readloom.api.auth import Principal\n",
        "import readloom.api.schemas\n",
        "from readloom.api import idempotency\n",
        "from readloom import api\n",
        "from ..api.runtime import Runtime\n",
        "def f():\n    from readloom.api.problems import problem\n",
        "import importlib\nm = importlib.import_module('readloom.api.deps')\n",
    ],
)
def test_the_scan_catches_every_import_style(tmp_path, code):
    (tmp_path / "service").mkdir()
    (tmp_path / "service" / "sneaky.py").write_text(code)
    (tmp_path / "service" / "fine.py").write_text("from readloom.service.views import MessageOut\n")
    found = violations(tmp_path)
    assert found and all("sneaky.py" in v for v in found)
