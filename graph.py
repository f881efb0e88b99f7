"""The readloom graph: the one place to read the flow.

START → guard_in ─blocked→ respond_safely → END
           │
           ▼
        planner ─tutor→ grader ─tries ≥ N→ worked_explanation ─┐
           │ questions    │                                      │
           ▼              ▼                                      ▼
        executor ←────────┘            evaluator ←──────────────┘
           └──────────────→ evaluator ─revise (≤2)→ redraft → evaluator
                                 │ reject → offline_fallback → intervention
                                 ▼
                           intervention ─hints not working→ alternate_explanation → evaluator
                                 ▼
                             guard_out → END

The grader judges an answer attempt (correct, partially correct, incorrect, not an
answer) and counts unsuccessful tries; the planner's move is refined from its verdict.

Nodes never pick their successor: the routers below do. ``build_graph`` returns the
uncompiled builder so the CLI, the API, tests and evals each choose a checkpointer.
"""

from __future__ import annotations

from typing import Literal

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph

from readloom.agents.evaluator import make_evaluator
from readloom.agents.executor import make_executor, make_offline_fallback, make_redraft
from readloom.agents.explanations import make_alternate_explanation, make_worked_explanation
from readloom.agents.grader import make_grader
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
    TutorPolicy,
    Verdict,
)

# Types the checkpointer may deserialize: nothing else is revived from the database.
CHECKPOINT_TYPES = (Plan, Draft, Verdict, Turn, Question, Grade, Intervention, TutorPolicy)


def after_guard_in(state: TurnState) -> Literal["respond_safely", "planner"]:
    return "respond_safely" if state.get("blocked") else "planner"


def after_planner(state: TurnState) -> Literal["grader", "executor"]:
    """Tutoring turns on a question go through the grader; teachers' requests do not."""
    if state.get("mode") == "tutor" and state.get("current_question") is not None:
        return "grader"
    return "executor"


def make_after_grader(max_tries: int):  # noqa: ANN201 - returns the router below
    def after_grader(state: TurnState) -> Literal["worked_explanation", "executor"]:
        """Never stuck: after ``max_tries`` unsuccessful tries (or the learner's experiment
        arm's ``tries_before_worked``), model the reasoning."""
        plan = state.get("plan")
        limit = (plan.policy.tries_before_worked if plan else None) or max_tries
        if plan is not None and plan.move != "affirm" and state.get("tries", 0) >= limit:
            return "worked_explanation"
        return "executor"

    return after_grader


def after_evaluator(state: TurnState) -> Literal["redraft", "offline_fallback", "intervention"]:
    verdict = state["verdict"]
    if verdict.action == "revise":
        return "redraft"
    if verdict.action == "reject":
        return "offline_fallback"
    return "intervention"


def after_intervention(state: TurnState) -> Literal["alternate_explanation", "guard_out"]:
    intervention = state.get("intervention")
    wants_alternate = intervention is not None and intervention.kind == "alternate_explanation"
    if wants_alternate and not state.get("alternate_used"):
        return "alternate_explanation"
    return "guard_out"


def build_graph(svc: Services) -> StateGraph:
    builder = StateGraph(TurnState, context_schema=TurnContext, input_schema=TurnInput)
    svc = instrument_services(svc)  # spans for tool and guardrail calls (observability/)
    builder.add_node("guard_in", traced("guard_in", make_guard_in(svc)))
    builder.add_node("respond_safely", traced("respond_safely", make_respond_safely(svc)))
    builder.add_node("planner", traced("planner", make_planner(svc)))
    builder.add_node("grader", traced("grader", make_grader(svc)))
    builder.add_node(
        "worked_explanation", traced("worked_explanation", make_worked_explanation(svc))
    )
    builder.add_node("executor", traced("executor", make_executor(svc)))
    builder.add_node("evaluator", traced("evaluator", make_evaluator(svc)))
    builder.add_node("redraft", traced("redraft", make_redraft(svc)))
    builder.add_node(
        "alternate_explanation", traced("alternate_explanation", make_alternate_explanation(svc))
    )
    builder.add_node("offline_fallback", traced("offline_fallback", make_offline_fallback(svc)))
    builder.add_node("intervention", traced("intervention", make_intervention(svc)))
    builder.add_node("guard_out", traced("guard_out", make_guard_out(svc)))

    builder.add_edge(START, "guard_in")
    builder.add_conditional_edges("guard_in", after_guard_in)
    builder.add_edge("respond_safely", END)
    builder.add_conditional_edges("planner", after_planner)
    builder.add_conditional_edges("grader", make_after_grader(svc.settings.tutor_max_tries))
    builder.add_edge("worked_explanation", "evaluator")
    builder.add_edge("executor", "evaluator")
    builder.add_conditional_edges("evaluator", after_evaluator)
    builder.add_edge("redraft", "evaluator")
    builder.add_edge("offline_fallback", "intervention")
    builder.add_conditional_edges("intervention", after_intervention)
    builder.add_edge("alternate_explanation", "evaluator")
    builder.add_edge("guard_out", END)
    return builder


def checkpoint_serializer() -> JsonPlusSerializer:
    return JsonPlusSerializer(allowed_msgpack_modules=list(CHECKPOINT_TYPES))
