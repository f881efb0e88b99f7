"""The suites, in the order a full run executes them. Each module's ``run(ctx)`` returns a
``SuiteOutput``; modules are imported only when their suite runs."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from evalkit.context import EvalContext
from evalkit.model import SuiteOutput

SuiteFn = Callable[[EvalContext], SuiteOutput]

SUITES: dict[str, str] = {
    "pii": "evalkit.suites.pii:run",
    "safety": "evalkit.suites.safety:run",
    "retrieval": "evalkit.suites.retrieval:run",
    "questions": "evalkit.suites.questions:run",
    "tutor": "evalkit.suites.tutor:run",
    "mastery": "evalkit.suites.mastery:run",
    "mlops": "evalkit.suites.mlops:run",
}

# Suites that use the shared services (Presidio, spaCy, embeddings, Chroma): built once,
# before the first of them runs, so per-suite times are comparable.
NEEDS_SERVICES = frozenset({"pii", "safety", "questions", "tutor", "mlops"})


def load(name: str) -> SuiteFn:
    module, _, attr = SUITES[name].partition(":")
    return getattr(importlib.import_module(module), attr)
