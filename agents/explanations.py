"""The two explanation nodes: an alternate explanation when hints are not working, and a
worked explanation after repeated tries, so that no child is ever stuck on one question.

The worked explanation models the reasoning — where the evidence is and how it answers
the question — asks the child to say it in their own words, records the item as
*assisted* (one miss for mastery, never a correct answer) and moves on to the next
question.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime

from readloom.agents.executor import _ask_next, _retrieve, _tutor_reply
from readloom.agents.grader import record_mastery
from readloom.agents.services import Services
from readloom.llm.offline.leak import answer_leaks
from readloom.state import Draft, Grade, TurnContext, TurnState


def make_alternate_explanation(svc: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def alternate_explanation(
        state: TurnState, runtime: Runtime[TurnContext]
    ) -> dict[str, Any]:
        ctx = runtime.context
        passage = svc.store.get(state["passage_id"])
        question = state.get("current_question")
        spans = state.get("spans") or await _retrieve(svc, passage, question, None)
        draft = await _tutor_reply(
            svc, state, ctx, passage, move="alternate_explanation", question=question,
            spans=spans, hint_level=state.get("hint_level", 0), correct=False,
        )  # fmt: skip
        return {"draft": draft, "spans": spans, "alternate_used": True, "revisions": 0}

    return alternate_explanation


def make_worked_explanation(svc: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def worked_explanation(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        ctx = runtime.context
        passage = svc.store.get(state["passage_id"])
        question = state["current_question"]
        assert question is not None  # routed here only with a question on the table
        spans = await _retrieve(svc, passage, question, None)
        worked = await _tutor_reply(
            svc, state, ctx, passage, move="worked_explanation", question=question,
            spans=spans, hint_level=3, correct=False,
        )  # fmt: skip
        graded = state.get("grade_result")
        if state.get("attempts", 0) > 0:  # a real attempt was made: one miss, not one per try
            await record_mastery(svc, state, ctx.student_id, question.skill, 0)
        assisted = Grade(
            correct=False, score=graded.score if graded else 0.0, skill=question.skill,
            verdict=graded.verdict if graded else None, reason="assisted",
            confidence=graded.confidence if graded else None, assisted=True,
        )  # fmt: skip
        follow = await _ask_next(svc, state, ctx, passage, {}, spans)
        skipped: list[str] = []
        while (nxt := follow.get("current_question")) is not None and answer_leaks(
            worked.text, nxt.answer, nxt.question
        ):  # the explanation would give the next answer away: ask another question
            skipped.append(nxt.question)
            seen = {**state, "asked": [*state.get("asked", []), *skipped]}
            follow = await _ask_next(svc, seen, ctx, passage, {}, spans)  # type: ignore[arg-type]
        if skipped:
            follow["asked"] = [*skipped, *follow.get("asked", [])]
        text = f"{worked.text}\n\n{follow['draft'].text}"
        draft = Draft(text=text, provenance=worked.provenance, move="worked_explanation")
        return {k: v for k, v in follow.items() if k != "draft"} | {
            "draft": draft,
            "grade_result": assisted,
            "assisted_items": state.get("assisted_items", 0) + 1,
        }

    return worked_explanation
