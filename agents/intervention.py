"""Intervention: watches tries and assisted items; escalates hints, switches to an alternate
explanation once per question, and queues a teacher alert when a student keeps struggling.

Alerts are rate-limited per session by the alert queue; weak signals (frustration
alone) go to a review queue instead of interrupting a teacher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypedDict

from langgraph.runtime import Runtime

from readloom.agents.services import Services
from readloom.state import Intervention, TurnContext, TurnState

ALERT_AFTER_ASSISTED = 2  # questions the tutor had to model in one session before an alert


class InterventionUpdate(TypedDict):
    intervention: Intervention


def decide(state: TurnState, mastery: float | None, *, max_tries: int = 3) -> Intervention:
    """Correct answers never raise anything. One try before the worked explanation, the
    tutor explains the question another way (once per question); a teacher hears about a
    child who needed the answer modelled on several questions."""
    graded = state.get("grade_result")
    if state.get("mode") != "tutor" or (graded and graded.correct):
        return Intervention(kind="none")
    hint_level = state.get("hint_level", 0)
    if graded is not None and graded.assisted:
        if state.get("assisted_items", 0) >= ALERT_AFTER_ASSISTED:
            return Intervention(kind="teacher_alert", reason="repeated_failure",
                                hint_level=hint_level)  # fmt: skip
        return Intervention(kind="none", reason="assisted")
    plan = state.get("plan")
    if plan and plan.intent == "frustration":  # empathy first, never a harder explanation
        frustrated = sum(1 for t in state.get("history", []) if t.move == "encourage")
        if frustrated >= 1:
            return Intervention(
                kind="teacher_alert", reason="repeated_frustration", hint_level=hint_level
            )
        return Intervention(kind="none", reason="encourage")
    tries = state.get("tries", 0)
    draft = state.get("draft")
    if state.get("alternate_used") and draft is not None and draft.move == "alternate_explanation":
        # the second look of the turn, after the alternate explanation was written: the
        # turn's intervention is that explanation, not a hint escalated on top of it
        return Intervention(
            kind="alternate_explanation", reason="hints_not_working", hint_level=hint_level
        )
    if tries >= max(1, max_tries - 1) and not state.get("alternate_used"):
        return Intervention(
            kind="alternate_explanation", reason="hints_not_working", hint_level=hint_level
        )
    if state.get("attempts", 0) or (plan and plan.intent in ("help_request", "answer_demand")):
        return Intervention(kind="escalate_hint", reason="struggling", hint_level=hint_level)
    return Intervention(kind="none")


def make_intervention(svc: Services) -> Callable[..., Awaitable[InterventionUpdate]]:
    async def intervention(state: TurnState, runtime: Runtime[TurnContext]) -> InterventionUpdate:
        ctx = runtime.context
        question = state.get("current_question")
        mastery = (
            (await asyncio.to_thread(svc.mastery.get, ctx.student_id)).get(question.skill)
            if question
            else None
        )  # a store read: on Postgres a blocking query would stall every turn of the worker
        plan = state.get("plan")
        arm_tries = plan.policy.tries_before_worked if plan else None
        decision = decide(state, mastery, max_tries=arm_tries or svc.settings.tutor_max_tries)
        if decision.kind == "teacher_alert":
            low_confidence = decision.reason == "repeated_frustration"
            await asyncio.to_thread(  # a store write: never on the event loop
                svc.guards.audit.queue_alert,
                tenant=ctx.tenant,
                session_id=state["session_id"],
                student_id=ctx.student_id,
                kind=decision.reason,
                severity="low" if low_confidence else "medium",
                entities=(),
                confidence=0.5 if low_confidence else 0.9,
            )
        return {"intervention": decision}

    return intervention
