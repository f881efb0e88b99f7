"""Structural guarantee: no code path reaches a provider around ``LLMGate``.

Outside ``llm/`` (and ``tests/``, and ``evals/`` whose failover benchmark must call the
SDK directly for its baseline), no module may import a provider SDK, an adapter, the
router or the registry, by ``import``, ``from``, relative import or ``importlib``.
Inside ``llm/``, each SDK is imported only by its adapter and adapters are named only by
the registry.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", "venv", "tests", "evals", "build", "dist", "node_modules", "__pycache__"}

SDKS = ("openai", "anthropic", "langchain_openai", "langchain_anthropic")
INTERNALS = (
    "readloom.llm.openai_provider",
    "readloom.llm.anthropic_provider",
    "readloom.llm.router",
    "readloom.llm.registry",
)
FORBIDDEN = SDKS + INTERNALS


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["readloom", *parts])


def imported(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports or names for ``importlib``, as absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                yield node.lineno, str(arg.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # "module:attr" factory strings and the like
            for internal in INTERNALS:
                if internal in node.value:
                    yield node.lineno, internal


def hits(name: str, banned: tuple[str, ...]) -> bool:
    return any(name == b or name.startswith(b + ".") for b in banned)


def source_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(p in SKIP_DIRS or p.startswith(".") or p.endswith(".egg-info") for p in rel):
            continue
        yield path


def violations(root: Path) -> list[str]:
    found = []
    for path in source_files(root):
        if path.relative_to(root).parts[0] == "llm":
            continue
        for line, name in imported(path, root):
            if hits(name, FORBIDDEN):
                found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return sorted(set(found))


def test_nothing_outside_llm_reaches_a_provider():
    assert list(source_files(REPO)), "the scan found no source files"
    assert violations(REPO) == [], "provider access outside the LLM gate"


@pytest.mark.parametrize(
    "code",
    [
        "import openai\n",
        "from anthropic import AsyncAnthropic\n",
        "import langchain_openai.chat_models\n",
        "from langchain_anthropic import ChatAnthropic\n",
        "from readloom.llm import router\n",
        "from readloom.llm.registry import build_providers\n",
        "from ..llm.openai_provider import OpenAIProvider\n",
        "from ..llm import anthropic_provider\n",
        "import importlib\nm = importlib.import_module('openai')\n",
        "x = __import__('readloom.llm.router')\n",
        "F = 'readloom.llm.openai_provider:OpenAIProvider'\n",
    ],
)
def test_the_scan_catches_every_import_style(tmp_path, code):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "sneaky.py").write_text(code)
    (tmp_path / "agents" / "fine.py").write_text("from readloom.llm.gate import LLMGate\n")
    assert len(violations(tmp_path)) >= 1
    assert all("sneaky" in v for v in violations(tmp_path))


def test_inside_llm_only_adapters_import_sdks_and_only_the_registry_names_adapters():
    owners = {
        "openai": {"llm/openai_provider.py"},
        "langchain_openai": {"llm/openai_provider.py"},
        "anthropic": {"llm/anthropic_provider.py"},
        "langchain_anthropic": {"llm/anthropic_provider.py"},
        "readloom.llm.openai_provider": {"llm/openai_provider.py", "llm/registry.py"},
        "readloom.llm.anthropic_provider": {"llm/anthropic_provider.py", "llm/registry.py"},
    }
    wrong = []
    for path in source_files(REPO / "llm"):
        rel = f"llm/{path.relative_to(REPO / 'llm').as_posix()}"
        for line, name in imported(path, REPO):
            for banned, allowed in owners.items():
                if hits(name, (banned,)) and rel not in allowed:
                    wrong.append(f"{rel}:{line} imports {name}")
    assert wrong == []
