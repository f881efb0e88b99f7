"""Spans and metrics for graph nodes and whole turns.

``traced(name, fn)`` wraps a node callable at build time (``graph.py``): one span per
node run, carrying the session id, tenant and mode, and the node's *decisions* read from
the typed update it returns (plan intent and move, evaluator verdict and problem codes,
intervention kind, guard block reason). Text fields (message, reply, draft text,
questions, retrieved spans, history) are never read.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry.trace import Span

from readloom.observability.tracing import (
    TurnScope,
    add_event,
    code,
    codes,
    instruments,
    span,
    turn_scope,
)

Node = Callable[..., Awaitable[Any]]


def traced(name: str, fn: Node) -> Node:
    """``fn`` with a span, a latency measurement and the turn scope around every run.

    The wrapper always asks LangGraph for ``runtime`` (injected by parameter name) to
    read the tenant, and passes it on only to nodes that take it.
    """
    passes_runtime = "runtime" in inspect.signature(fn).parameters
    node_attrs = {"readloom.node": name}

    async def node(state: Mapping[str, Any], runtime: Any = None) -> Any:
        ctx = getattr(runtime, "context", None)
        scope = TurnScope(
            session_id=state.get("session_id"),
            tenant=getattr(ctx, "tenant", None),
            mode=state.get("mode"),
        )
        start = time.perf_counter()
        outcome = "ok"
        try:
            with turn_scope(scope), span(f"node {name}", node_attrs) as current:
                update = await (fn(state, runtime) if passes_runtime else fn(state))
                if isinstance(update, Mapping):
                    _observe(name, update, scope, current)
                return update
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            instruments().node_duration.record(
                time.perf_counter() - start, {"node": name, "outcome": outcome}
            )

    node.__name__ = node.__qualname__ = name
    node.__doc__ = fn.__doc__
    return node


@contextmanager
def turn_span(
    kind: str, *, session_id: str, tenant: str = "default", mode: str | None = None
) -> Iterator[Span]:
    """The root of one turn (``kind``: ``tutor_turn``, ``generate_questions``): every node,
    tool and model span of the run nests under it, and under the HTTP request span when
    there is one. Also measures ``readloom.turn.duration``. Re-entrant: inside a turn span
    for the same session and kind it adds nothing (a caller and the service may both
    open one)."""
    active = _ACTIVE_TURN.get()
    if active is not None and active[:2] == (session_id, kind):
        yield active[2]
        return
    scope = TurnScope(session_id=session_id, tenant=tenant, mode=mode)
    start = time.perf_counter()
    outcome = "ok"
    try:
        with turn_scope(scope), span(f"readloom {kind}", {"readloom.turn.kind": kind}) as root:
            token = _ACTIVE_TURN.set((session_id, kind, root))
            try:
                yield root
            finally:
                _ACTIVE_TURN.reset(token)
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        instruments().turn_duration.record(
            time.perf_counter() - start,
            {"kind": code(kind), "tenant": code(tenant), "outcome": outcome},
        )


_ACTIVE_TURN: ContextVar[tuple[str, str, Span] | None] = ContextVar("readloom_turn", default=None)


# --- what a node decided -----------------------------------------------------------------


def _observe(name: str, update: Mapping[str, Any], scope: TurnScope, current: Span) -> None:
    tenant = code(scope.tenant or "default")
    metrics = instruments()
    verdict = update.get("verdict")
    if verdict is not None:
        metrics.verdicts.add(1, {"tenant": tenant, "action": code(verdict.action)})
    intervention = update.get("intervention")
    if intervention is not None and intervention.kind != "none":
        metrics.interventions.add(
            1,
            {
                "tenant": tenant,
                "kind": code(intervention.kind),
                "reason": code(intervention.reason),
            },
        )
    if not current.is_recording():
        return
    attrs = _decisions(update)
    if attrs:
        current.set_attributes(attrs)
    if verdict is not None:
        add_event(
            "evaluator.verdict",
            {"action": code(verdict.action), "problems": codes(verdict.problems)},
        )
    if intervention is not None:
        add_event(
            "intervention",
            {
                "kind": code(intervention.kind),
                "reason": code(intervention.reason or "none"),
                "hint_level": int(intervention.hint_level),
            },
        )


def _decisions(update: Mapping[str, Any]) -> dict[str, Any]:
    """Typed, non-text fields of a node's update as span attributes."""
    a: dict[str, Any] = {}
    if "blocked" in update:
        a["readloom.guardrail.blocked"] = bool(update["blocked"])
        if update.get("block_reason"):
            a["readloom.guardrail.reason"] = code(update["block_reason"])
    if plan := update.get("plan"):
        a["readloom.plan.intent"] = code(plan.intent)
        a["readloom.plan.move"] = code(plan.move)
        a["readloom.plan.tools"] = codes(plan.tools)
        a["readloom.plan.tier"] = code(plan.tier)
    if verdict := update.get("verdict"):
        a["readloom.verdict.action"] = code(verdict.action)
        a["readloom.verdict.problems"] = codes(verdict.problems)
    if "revisions" in update:
        a["readloom.revisions"] = int(update["revisions"])
    if graded := update.get("grade_result"):
        a["readloom.grade.correct"] = bool(graded.correct)
        a["readloom.grade.score"] = float(graded.score)
        a["readloom.grade.skill"] = code(graded.skill)
    if intervention := update.get("intervention"):
        a["readloom.intervention.kind"] = code(intervention.kind)
        if intervention.reason:
            a["readloom.intervention.reason"] = code(intervention.reason)
    if draft := update.get("draft"):
        if draft.move:
            a["readloom.draft.move"] = code(draft.move)
        if draft.questions:
            a["readloom.draft.questions"] = len(draft.questions)
        _provenance(a, draft.provenance)
    if question := update.get("current_question"):
        a["readloom.question.skill"] = code(question.skill)
        a["readloom.question.type"] = code(question.type)
    for key in ("attempts", "hint_level"):
        if key in update:
            a[f"readloom.{key}"] = int(update[key])
    if "questions" in update and update["questions"]:
        a["readloom.questions"] = len(update["questions"])
    if provenance := update.get("provenance"):
        _provenance(a, provenance)
        if "output_guard" in provenance:
            a["readloom.guardrail.output"] = code(provenance["output_guard"])
    return a


def _provenance(a: dict[str, Any], provenance: Mapping[str, Any]) -> None:
    if provider := provenance.get("provider"):
        a["readloom.llm.provider"] = code(provider)
    if model := provenance.get("model"):
        a["readloom.llm.model"] = code(model)
    if provenance.get("cached"):
        a["readloom.llm.cached"] = True
