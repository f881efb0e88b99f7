"""The readloom graph: the one place to read the flow.

START → guard_in ─blocked→ respond_safely → END
           │
           ▼
        planner → executor → evaluator ─revise (≤2)→ executor
                                 │ reject → offline_fallback
                                 ▼
                           intervention ─re-explain→ executor
                                 ▼
                             guard_out → END

Nodes never pick their successor: the routers below do. ``build_graph`` returns the
uncompiled builder so the CLI, the API, tests and evals each choose a checkpointer.
"""

from __future__ import annotations

from typing import Literal

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph

from readloom.agents.evaluator import make_evaluator
from readloom.agents.executor import make_executor, make_offline_fallback
from readloom.agents.guardrail import make_guard_in, make_guard_out, make_respond_safely
from readloom.agents.intervention import make_intervention
from readloom.agents.planner import make_planner
from readloom.agents.services import Services
from readloom.observability import instrument_services, traced
from readloom.state import (
    Draft,
    Grade,
    Intervention,
    Plan,
    Question,
    Turn,
    TurnContext,
    TurnInput,
    TurnState,
    Verdict,
)

# Types the checkpointer may deserialize: nothing else is revived from the database.
CHECKPOINT_TYPES = (Plan, Draft, Verdict, Turn, Question, Grade, Intervention)


def after_guard_in(state: TurnState) -> Literal["respond_safely", "planner"]:
    return "respond_safely" if state.get("blocked") else "planner"


def after_evaluator(state: TurnState) -> Literal["executor", "offline_fallback", "intervention"]:
    verdict = state["verdict"]
    if verdict.action == "revise":
        return "executor"
    if verdict.action == "reject":
        return "offline_fallback"
    return "intervention"


def after_intervention(state: TurnState) -> Literal["executor", "guard_out"]:
    intervention = state.get("intervention")
    wants_alternate = intervention is not None and intervention.kind == "alternate_explanation"
    if wants_alternate and not state.get("alternate_used"):
        return "executor"
    return "guard_out"


def build_graph(svc: Services) -> StateGraph:
    builder = StateGraph(TurnState, context_schema=TurnContext, input_schema=TurnInput)
    svc = instrument_services(svc)  # spans for tool and guardrail calls (observability/)
    builder.add_node("guard_in", traced("guard_in", make_guard_in(svc)))
    builder.add_node("respond_safely", traced("respond_safely", make_respond_safely(svc)))
    builder.add_node("planner", traced("planner", make_planner(svc)))
    builder.add_node("executor", traced("executor", make_executor(svc)))
    builder.add_node("evaluator", traced("evaluator", make_evaluator(svc)))
    builder.add_node("offline_fallback", traced("offline_fallback", make_offline_fallback(svc)))
    builder.add_node("intervention", traced("intervention", make_intervention(svc)))
    builder.add_node("guard_out", traced("guard_out", make_guard_out(svc)))

    builder.add_edge(START, "guard_in")
    builder.add_conditional_edges("guard_in", after_guard_in)
    builder.add_edge("respond_safely", END)
    builder.add_edge("planner", "executor")
    builder.add_edge("executor", "evaluator")
    builder.add_conditional_edges("evaluator", after_evaluator)
    builder.add_edge("offline_fallback", "intervention")
    builder.add_conditional_edges("intervention", after_intervention)
    builder.add_edge("guard_out", END)
    return builder


def checkpoint_serializer() -> JsonPlusSerializer:
    return JsonPlusSerializer(allowed_msgpack_modules=list(CHECKPOINT_TYPES))
