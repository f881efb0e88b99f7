"""An in-process ``Provider`` for tests that need a tier without a network edge (e.g. a
stand-in for the offline tier, so LLM tests do not depend on spaCy)."""

from __future__ import annotations

from collections.abc import Iterable

from readloom.llm.base import LLMRequest, LLMResult, Usage


class FakeProvider:
    """Satisfies ``readloom.llm.base.Provider``. ``enqueue`` scripts replies (a string is
    the answer, an exception is raised); ``calls`` records every request received."""

    def __init__(
        self,
        name: str = "offline",
        model: str = "offline-rules-v1",
        replies: Iterable[str | Exception] = (),
        *,
        default: str = "Let's look at the passage together. What happened first?",
    ) -> None:
        self.name = name
        self.model = model
        self.default = default
        self.calls: list[LLMRequest] = []
        self.last_usage = Usage()
        self._replies: list[str | Exception] = list(replies)

    def available(self) -> bool:
        return True

    def enqueue(self, *replies: str | Exception) -> None:
        self._replies.extend(replies)

    def _next(self, req: LLMRequest) -> str:
        self.calls.append(req)
        reply = self._replies.pop(0) if self._replies else self.default
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def complete(self, req: LLMRequest) -> LLMResult:
        text = self._next(req)
        parsed = req.output_schema.model_validate_json(text) if req.output_schema else None
        self.last_usage = Usage()
        return LLMResult(text=text, parsed=parsed, provider=self.name, model=self.model)
