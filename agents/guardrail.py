"""Guardrail agent: guard_in (policy, safety, injection, PII redaction) and guard_out.

guard_in is the only node that sees the raw message, and only through the run's
context, which is never checkpointed: what it writes to the state is redacted.
Any failure inside a check denies the request (fail closed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime

from readloom.agents.services import Services
from readloom.guardrails.base import GuardContext
from readloom.state import Draft, Turn, TurnContext, TurnState

DENIED_REPLY = (
    "I can't help with that message here. Let's keep reading together: what part of the "
    "story would you like to look at?"
)
GUARD_FAILED_REPLY = (
    "Something went wrong on my side, so I'm pausing this chat to keep you safe. Please try "
    "again in a moment, or ask your teacher for help."
)
SAFE_OUTPUT_REPLY = "Let's look at the passage together. Which sentence do you think helps most?"


def _guard_context(
    svc: Services, state: TurnState, ctx: TurnContext, direction: str
) -> GuardContext:
    allow: frozenset[str] = frozenset()
    if state.get("passage_id"):
        try:
            allow = svc.allow_list(svc.store.get(state["passage_id"]))
        except Exception:  # noqa: BLE001 - unknown passage: no allow-list, checks still run
            allow = frozenset()
    return GuardContext(
        tenant=ctx.tenant,
        role=ctx.role,
        grade=state.get("grade", 5),
        session_id=state["session_id"],
        allow_list=allow,
        direction=direction,  # type: ignore[arg-type]
        session_tenant=state.get("tenant"),
        student_id=ctx.student_id,
    )


def make_guard_in(svc: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def guard_in(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        ctx = runtime.context
        gctx = _guard_context(svc, state, ctx, "input")
        # Presidio and spaCy are CPU-bound: keep them off the event loop.
        outcome = await asyncio.to_thread(
            svc.guards.check_input,
            ctx.raw_message,
            gctx,
            mode=state.get("mode", "tutor"),
            student_id=ctx.student_id,
        )
        base: dict[str, Any] = {
            "message": outcome.text if outcome.allowed else "",
            "plan": None,
            "draft": None,
            "verdict": None,
            "revisions": 0,
            "grade_result": None,
            "intervention": None,
            "questions": [],
            "spans": [],
        }
        if outcome.allowed:
            return base | {
                "blocked": False,
                "block_reason": None,
                "tenant": state.get("tenant") or ctx.tenant,
            }
        reply = outcome.scripted_reply or (
            GUARD_FAILED_REPLY
            if outcome.reason in ("guard_error", "guard_timeout")
            else DENIED_REPLY
        )
        return base | {"blocked": True, "block_reason": outcome.reason, "reply": reply}

    return guard_in


def make_respond_safely(svc: Services) -> Callable[[TurnState], Awaitable[dict[str, Any]]]:
    async def respond_safely(state: TurnState) -> dict[str, Any]:
        reply = state.get("reply") or DENIED_REPLY
        # a blocked message is still a turn spent on the question (never stuck: it counts)
        tries = state.get("tries", 0) + (1 if state.get("current_question") else 0)
        return {
            "tries": tries,
            "reply": reply,
            "provenance": {"provider": "guardrail", "model": "scripted", "prompt": "scripted"},
            "history": [
                Turn(role="student", text="[withheld]"),
                Turn(role="tutor", text=reply, move="safety"),
            ],
        }

    return respond_safely


def make_guard_out(svc: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def guard_out(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        ctx = runtime.context
        draft: Draft | None = state.get("draft")
        gctx = _guard_context(svc, state, ctx, "output")
        if state.get("mode") == "questions":
            return {"provenance": draft.provenance if draft else {}, "reply": ""}
        text = draft.text if draft else SAFE_OUTPUT_REPLY
        outcome = await asyncio.to_thread(svc.guards.check_output, text, gctx)
        reply = outcome.text if outcome.allowed else SAFE_OUTPUT_REPLY
        move = draft.move if draft else None
        return {
            "reply": reply,
            "provenance": (draft.provenance if draft else {})
            | {"output_guard": outcome.reason or "ok"},
            "history": [
                Turn(role="student", text=state.get("message", "")),
                Turn(role="tutor", text=reply, move=move),
            ],
        }

    return guard_out
