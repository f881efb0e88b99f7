"""The application core that the API, the CLI and the evals share.

``core`` builds every part once and runs turns through the graph; the modules beside it
are the application's units of work (tutoring turns, learners, jobs, xAPI events, the
webhook outbox). HTTP lives in ``api/``, which calls in here, never the other way round.

Names are resolved lazily so that importing one small module (``service.outbox``) does
not load the graph, the models and every store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from readloom.service.core import QuestionsResult, Readloom, TurnResult, build_services

__all__ = ["QuestionsResult", "Readloom", "TurnResult", "build_services"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from readloom.service import core

        return getattr(core, name)
    raise AttributeError(f"module 'readloom.service' has no attribute {name!r}")
