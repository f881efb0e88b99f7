"""spaCy and Presidio without torch: about 4 s of CPU off every command that parses text.

thinc (spaCy's backend) and Presidio import torch and transformers at import time when
they are installed, only to offer GPU and Hugging Face pipelines. readloom's pipelines are
the CPU spaCy model (numpy) and Presidio's pattern and spaCy recognisers, so both packages
are imported with torch and transformers hidden; each then records "not available" and
never touches them. torch itself still loads, normally, when the embedding model is
needed (``retrieval.embeddings``). ``IMPORT_LOCK`` is held while they are hidden, and the
embedding model's import takes it too, so no thread sees torch missing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

IMPORT_LOCK = threading.RLock()
_LEAN = frozenset({"thinc", "presidio_analyzer"})
_HIDDEN = ("torch", "transformers")


@contextmanager
def _hidden(names: Sequence[str]) -> Iterator[None]:
    """``import name`` raises ImportError inside the block (a ``None`` in ``sys.modules``);
    a package that is already imported is left alone."""
    with IMPORT_LOCK:
        hidden = [n for n in names if n not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            yield
        finally:
            for name in hidden:
                if sys.modules.get(name, 0) is None:
                    del sys.modules[name]


class _LeanLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with _hidden(_HIDDEN):
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> object:  # resources, get_code, is_package…
        return getattr(self._loader, name)


class _LeanFinder(importlib.abc.MetaPathFinder):
    """Wraps the normal loader of thinc and presidio_analyzer (top-level packages only)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _LEAN:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _LeanLoader(spec.loader)  # type: ignore[assignment]
        return spec


def install() -> None:
    """Idempotent; done on ``import readloom``, before anything can import spaCy."""
    import os

    # Presidio otherwise imports torch to ask whether CUDA is there; readloom runs on CPU.
    os.environ.setdefault("PRESIDIO_DEVICE", "cpu")
    if not any(isinstance(f, _LeanFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _LeanFinder())


def package_dir(name: str) -> Path:
    """A top-level package's folder, found without running its ``__init__`` (textstat's
    imports nltk, ~1.5 s, when all we want is a word list it ships)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(name)
    return Path(next(iter(spec.submodule_search_locations)))
