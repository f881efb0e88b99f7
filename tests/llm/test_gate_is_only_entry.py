"""Structural guarantee: no code path reaches a provider around ``LLMGate``.

Outside ``llm/`` (and ``tests/``, and ``evals/`` whose failover benchmark must call the
SDK directly for its baseline), no module may import a provider SDK, an adapter, the
router or the registry, by ``import``, ``from``, relative import or ``importlib``.
Inside ``llm/``, each SDK is imported only by its adapter and adapters are named only by
the registry.
"""

from __future__ import annotations

import io
import re
import tokenize
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
_STRING = re.compile(r"[rRbBuUfF]*('''|\"\"\"|'|\")(.*)\1$", re.S)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["readloom", *parts])


def statements(source: str) -> Iterator[list[tokenize.TokenInfo]]:
    """The source's simple statements as token lists: split at newlines, ``;`` and the
    ``:`` of a one-line compound statement (``try: import openai``)."""
    stmt: list[tokenize.TokenInfo] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            continue
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or tok.string in (";", ":"):
            if stmt:
                yield stmt
            stmt = []
        else:
            stmt.append(tok)
    if stmt:
        yield stmt


def _names(toks: list[tokenize.TokenInfo]) -> Iterator[str]:
    """``a.b as c, d`` (parentheses allowed) -> ``a.b``, ``d``."""
    name, skip = "", False
    for tok in toks:
        if tok.string in ("(", ")"):
            continue
        if tok.string == ",":
            if name:
                yield name
            name, skip = "", False
        elif tok.string == "as":
            skip = True
        elif not skip:
            name += tok.string
    if name:
        yield name


def _literal(token: str) -> str:
    m = _STRING.match(token)
    return m.group(2) if m else token


def imported(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports or names for ``importlib``, as absolute names.

    Read with the tokenizer, not ``ast``: CPython 3.11's AST constructor can fail at random
    ("recursion depth mismatch") in a long test run, and a structural test must not flake.
    """
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for stmt in statements(path.read_text(encoding="utf-8")):
        words = [t.string for t in stmt]
        line = stmt[0].start[0]
        if words[0] == "import":
            for name in _names(stmt[1:]):
                yield line, name
        elif words[0] == "from" and "import" in words:
            cut = words.index("import")
            dotted = "".join(words[1:cut])
            level = len(dotted) - len(dotted.lstrip("."))
            base = dotted[level:]
            if level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield line, base
            for name in _names(stmt[cut + 1 :]):
                yield line, f"{base}.{name}"
        for i, tok in enumerate(stmt):
            if tok.type != tokenize.STRING:
                continue
            if i >= 2 and words[i - 1] == "(" and words[i - 2] in ("import_module", "__import__"):
                yield tok.start[0], _literal(tok.string)
            for internal in INTERNALS:  # "module:attr" factory strings and the like
                if internal in tok.string:
                    yield tok.start[0], internal


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
