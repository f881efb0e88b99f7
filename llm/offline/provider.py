"""The offline tier: deterministic, rule-based, always available, free.

It reads the request's ``variables`` (never the rendered messages), so the same
request always gets the same answer. spaCy work runs in a worker thread so the event
loop stays responsive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from readloom.llm.base import LLMRequest, LLMResult, ProviderError, Usage
from readloom.llm.offline.nlp import DEFAULT_MODEL, get_nlp
from readloom.llm.offline.questions import MAX_COUNT, generate_questions
from readloom.llm.offline.tutor import TutorInput, tutor_reply
from readloom.settings import Settings
from readloom.state import QuestionSet, QuestionType

log = logging.getLogger(__name__)
_M = TypeVar("_M", bound=BaseModel)

NAME = "offline"
MODEL = "offline-rules-v1"


class QuestionsInput(BaseModel):
    """The variables of the ``questions`` prompt."""

    model_config = ConfigDict(extra="ignore")

    passage_title: str = ""
    passage_text: str
    count: int = Field(5, ge=1, le=MAX_COUNT)
    grade: int = 5
    types: list[QuestionType] | None = None
    choices: bool = False

    @field_validator("grade")
    @classmethod
    def _clamp_grade(cls, v: int) -> int:
        return min(12, max(0, v))


class OfflineProvider:
    """Implements ``readloom.llm.base.Provider`` for tasks questions, tutor_reply, explain."""

    name = NAME
    model = MODEL

    def __init__(self, settings: Settings | None = None):
        self._spacy_model = settings.spacy_model if settings else DEFAULT_MODEL
        self.last_usage = Usage()

    def available(self) -> bool:
        return True

    def warm_up(self) -> None:
        """Load spaCy now (a few seconds) instead of on the first request."""
        get_nlp(self._spacy_model)

    async def complete(self, req: LLMRequest) -> LLMResult:
        started = time.perf_counter()
        text, parsed = await asyncio.to_thread(self._run, req)
        usage = Usage(input_tokens=_input_words(req), output_tokens=_words(text))
        self.last_usage = usage
        log.info(
            "offline_complete task=%s prompt=%s output_tokens=%d ms=%.1f",
            req.task, req.prompt_id, usage.output_tokens, (time.perf_counter() - started) * 1000,
        )  # fmt: skip
        return LLMResult(
            text=text, parsed=parsed, provider=NAME, model=MODEL, usage=usage, finish_reason="stop"
        )

    # --- work (runs in a worker thread) ---------------------------------------------

    def _run(self, req: LLMRequest) -> tuple[str, BaseModel | None]:
        if req.task == "questions":
            q = _validated(QuestionsInput, req.variables, req.task)
            qset = generate_questions(
                passage_title=q.passage_title, passage_text=q.passage_text, count=q.count,
                grade=q.grade, types=q.types or None, model=self._spacy_model,
                choices=q.choices,
            )  # fmt: skip
            return qset.model_dump_json(), _as_schema(qset, req.output_schema)
        if req.task in ("tutor_reply", "explain"):
            t = _validated(TutorInput, req.variables, req.task)
            text = tutor_reply(t, explain=req.task == "explain", model=self._spacy_model)
            return text, None
        raise ProviderError(
            f"the offline provider cannot do task '{req.task}' "
            "(it supports questions, tutor_reply and explain)",
            provider=NAME, retryable=False, status=400, kind="bad_request",
        )  # fmt: skip


def _validated(model: type[_M], variables: dict[str, Any], task: str) -> _M:
    try:
        return model.model_validate(variables)
    except ValidationError as exc:
        # Field names and error types only: the values are student or passage text.
        fields = sorted(
            {".".join(str(p) for p in e["loc"]) + f" ({e['type']})" for e in exc.errors()}
        )
        raise ProviderError(
            f"bad variables for task '{task}': {', '.join(fields)}",
            provider=NAME, retryable=False, status=400, kind="bad_request",
        ) from None  # fmt: skip


def _as_schema(qset: QuestionSet, schema: type[BaseModel] | None) -> BaseModel:
    if schema is None or schema is QuestionSet or isinstance(qset, schema):
        return qset
    try:
        return schema.model_validate(qset.model_dump())
    except ValidationError:
        raise ProviderError(
            f"the offline provider cannot produce schema {schema.__name__}",
            provider=NAME, retryable=False, kind="bad_output",
        ) from None  # fmt: skip


def _words(text: str) -> int:
    return len(text.split())


def _input_words(req: LLMRequest) -> int:
    """Rough token count of what was asked: the rendered prompt, else the variables."""
    if req.messages:
        return sum(_words(m.content) for m in req.messages)
    total = 0
    for value in req.variables.values():
        if isinstance(value, list):
            total += sum(_words(str(v)) for v in value)
        elif value is not None:
            total += _words(str(value))
    return total
