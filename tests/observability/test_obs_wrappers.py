"""The building blocks on a small real LangGraph: ``traced`` nodes get LangGraph's runtime
only when they ask for it, failures are recorded by type (never message), the tool proxy
is transparent, and codes that look like contact data never become attributes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from obs_support import Captured

from readloom.observability import traced, traced_tool, turn_span
from readloom.observability.tracing import code, identifier


class S(TypedDict, total=False):
    session_id: str
    mode: str
    seen_tenant: str
    n: int


@dataclass(frozen=True)
class Ctx:
    tenant: str = "default"


async def reads_runtime(state: S, runtime: Runtime[Ctx]) -> dict:
    return {"seen_tenant": runtime.context.tenant}


async def state_only(state: S) -> dict:
    return {"n": 1}


async def fails(state: S) -> dict:
    raise ValueError("input_value='my name is Maria Lopez'")


def graph(*nodes) -> object:
    builder = StateGraph(S, context_schema=Ctx)
    previous = START
    for name, fn in nodes:
        builder.add_node(name, traced(name, fn))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder.compile()


async def test_nodes_get_runtime_only_when_they_take_it(captured: Captured):
    g = graph(("a", reads_runtime), ("b", state_only))
    with turn_span("tutor_turn", session_id="ses-1", tenant="t-9"):
        out = await g.ainvoke({"session_id": "ses-1", "mode": "tutor"}, context=Ctx(tenant="t-9"))
    assert out["seen_tenant"] == "t-9" and out["n"] == 1
    a, b = captured.named("node ")
    root = captured.named("readloom tutor_turn")[0]
    for s in (a, b):
        assert s.parent.span_id == root.context.span_id
        assert (s.attributes["session.id"], s.attributes["readloom.tenant"]) == ("ses-1", "t-9")
    durations = {attrs["node"]: v for attrs, v in captured.metric("readloom.node.duration")}
    assert durations == {"a": 1, "b": 1}


async def test_a_failing_node_is_recorded_by_type_only(captured: Captured):
    g = graph(("boom", fails))
    with pytest.raises(ValueError):
        await g.ainvoke({"session_id": "ses-2"}, context=Ctx())
    (s,) = captured.named("node boom")
    assert s.attributes["error.type"] == "ValueError"
    assert s.status.status_code.name == "ERROR" and not s.status.description
    assert not s.events  # no exception event with the message and stack trace
    assert [a["outcome"] for a, _ in captured.metric("readloom.node.duration")] == ["ValueError"]
    assert "Maria" not in str(s.to_json())


class Skills:
    def __init__(self) -> None:
        self.known = {"main_idea"}

    def __contains__(self, skill: object) -> bool:
        return skill in self.known

    def __len__(self) -> int:
        return len(self.known)

    def prerequisites(self, skill: str) -> list[str]:
        return ["key_details"]


def test_tool_proxy_is_transparent_and_traces_named_methods(captured: Captured):
    skills = Skills()
    proxy = traced_tool(skills, "prerequisites", ("prerequisites", "not_a_method"))
    assert "main_idea" in proxy and "x" not in proxy and len(proxy) == 1
    assert proxy.prerequisites("main_idea") == ["key_details"]
    proxy.known = {"other"}  # attribute writes reach the real object
    assert skills.known == {"other"} and proxy.known is skills.known
    (s,) = captured.named("execute_tool prerequisites.prerequisites")
    assert s.attributes["gen_ai.tool.name"] == "prerequisites"
    assert s.attributes["readloom.tool.results"] == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("injection", "injection"),
        ("openai:server", "openai:server"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"),
        ("Maria Lopez", "other"),
        ("maria@example.com", "other"),
        ("555-867-5309", "other"),
        ("x" * 65, "other"),
    ],
)
def test_codes_admit_machine_codes_only(value, expected):
    assert code(value) == expected


def test_session_ids_pass_unless_they_look_like_an_email():
    assert identifier("ses-3f2a9c") == "ses-3f2a9c"
    assert identifier("maria@example.com") == "withheld"


async def test_turn_span_is_reentrant_for_the_same_session(captured: Captured):
    g = graph(("b", state_only))
    with (
        turn_span("tutor_turn", session_id="ses-3") as outer,  # e.g. the API route
        turn_span("tutor_turn", session_id="ses-3") as inner,  # e.g. the service
    ):
        assert inner is outer
        await g.ainvoke({"session_id": "ses-3"}, context=Ctx())
    assert len(captured.named("readloom tutor_turn")) == 1
    assert [v for _, v in captured.metric("readloom.turn.duration")] == [1]
