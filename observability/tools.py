"""Spans for tool and guardrail calls, added at the service boundary.

``instrument_services(svc)`` returns a copy of the node services whose retriever,
mastery store, skill graph and guardrail suite are thin proxies: the named methods run
inside an ``execute_tool`` span (GenAI semantic conventions) and everything else passes
straight through, so no tool module changes. Arguments are never recorded (queries and
student ids are personal); results are summarised as counts and codes. Guardrail
outcomes become attributes and one ``guardrail.decision`` event per guard, with entity
*types* only.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.trace import Span

from readloom.observability.tracing import code, codes, current_scope, instruments, span

Describe = Callable[[Span, Any], None]


def _count(current: Span, result: Any) -> None:
    if isinstance(result, list | tuple | dict | set):
        current.set_attribute("readloom.tool.results", len(result))


def _search(current: Span, result: Any) -> None:
    _count(current, result)
    ids = sorted({code(getattr(s, "passage_id", "")) for s in result or ()})
    if ids:
        current.set_attribute("readloom.retrieval.passage_ids", ids)


def _passage(current: Span, result: Any) -> None:
    current.set_attribute("readloom.retrieval.passage_id", code(getattr(result, "passage_id", "")))


def _probability(current: Span, result: Any) -> None:
    if isinstance(result, float):
        current.set_attribute("readloom.mastery.p", round(result, 4))


def _guard_outcome(current: Span, outcome: Any) -> None:
    results: Mapping[str, Any] = getattr(outcome, "results", {}) or {}
    entities = sorted({code(e) for r in results.values() for e in getattr(r, "entities", ())})
    current.set_attributes(
        {
            "readloom.guardrail.allowed": bool(outcome.allowed),
            "readloom.guardrail.checks": codes(list(results)),
            "readloom.guardrail.entity_types": entities,
        }
    )
    if outcome.denied_by:
        current.set_attribute("readloom.guardrail.denied_by", code(outcome.denied_by))
        current.set_attribute("readloom.guardrail.reason", code(outcome.reason or "denied"))
    timings = getattr(outcome, "timings_ms", {}) or {}
    for name, result in results.items():
        event: dict[str, Any] = {
            "guard": code(name),
            "allowed": bool(result.allowed),
            "entity_types": sorted({code(e) for e in result.entities}),
        }
        if result.reason:
            event["reason"] = code(result.reason)
        if result.risk is not None:
            event["risk"] = float(result.risk)
        if result.severity:
            event["severity"] = code(result.severity)
        if name in timings:
            event["duration_ms"] = round(float(timings[name]), 3)
        current.add_event("guardrail.decision", event)


def _alert(current: Span, alert: Any) -> None:
    current.set_attributes(
        {
            "readloom.alert.kind": code(getattr(alert, "kind", "")),
            "readloom.alert.severity": code(getattr(alert, "severity", "")),
            "readloom.alert.status": code(getattr(alert, "status", "")),
            "readloom.alert.repeats": int(getattr(alert, "repeats", 0)),
        }
    )


# --- metrics read off results (recorded whether or not the span records) ----------------


def _guard_metrics(direction: str) -> Callable[[Any], None]:
    def record(outcome: Any) -> None:
        tenant = _tenant()
        metrics = instruments()
        for entity in getattr(outcome, "entities", ()):
            metrics.guard_entities.add(1, {"direction": direction, "entity_type": code(entity)})
        if not outcome.allowed:
            metrics.guard_blocks.add(
                1,
                {
                    "tenant": tenant,
                    "direction": direction,
                    "guard": code(outcome.denied_by or "unknown"),
                    "reason": code(outcome.reason or "denied"),
                },
            )

    return record


def _alert_metrics(alert: Any) -> None:
    instruments().guard_alerts.add(
        1,
        {
            "tenant": _tenant(),
            "kind": code(getattr(alert, "kind", "")),
            "severity": code(getattr(alert, "severity", "")),
            "status": code(getattr(alert, "status", "")),
        },
    )


def _tenant() -> str:
    scope = current_scope()
    return code(scope.tenant) if scope and scope.tenant else "default"


# --- the proxy ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Method:
    describe: Describe | None = None
    measure: Callable[[Any], None] | None = None


class TracedTool:
    """Forwards every attribute to ``target``; the methods named in ``methods`` run in a
    span."""

    def __init__(
        self,
        target: Any,
        tool: str,
        methods: Mapping[str, Method],
        *,
        operation: str = "execute_tool",
    ) -> None:
        wrapped = {
            name: _wrap(target, tool, name, m, operation)
            for name, m in methods.items()
            if callable(getattr(target, name, None))
        }
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_wrapped", wrapped)

    def __getattr__(self, name: str) -> Any:
        wrapped = object.__getattribute__(self, "_wrapped")
        if name in wrapped:
            return wrapped[name]
        return getattr(object.__getattribute__(self, "_target"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_target"), name, value)

    # Python looks special methods up on the type, not through ``__getattr__``.
    def __contains__(self, item: object) -> bool:
        return item in object.__getattribute__(self, "_target")

    def __len__(self) -> int:
        return len(object.__getattribute__(self, "_target"))

    def __iter__(self) -> Any:
        return iter(object.__getattribute__(self, "_target"))

    def __getitem__(self, key: Any) -> Any:
        return object.__getattribute__(self, "_target")[key]

    def __bool__(self) -> bool:
        return bool(object.__getattribute__(self, "_target"))

    def __repr__(self) -> str:
        return f"TracedTool({object.__getattribute__(self, '_target')!r})"


def _wrap(target: Any, tool: str, method: str, spec: Method, operation: str) -> Callable[..., Any]:
    fn = getattr(target, method)
    attrs = {"readloom.tool": tool, "readloom.tool.method": method}
    if operation == "execute_tool":
        attrs |= {"gen_ai.operation.name": operation, "gen_ai.tool.name": tool}
    labels = {"tool": tool, "method": method}
    name = f"{operation} {tool}.{method}"

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            with span(name, attrs) as current:
                result = fn(*args, **kwargs)
                if spec.describe is not None and current.is_recording():
                    spec.describe(current, result)
            if spec.measure is not None:
                spec.measure(result)
            return result
        finally:
            instruments().tool_duration.record(time.perf_counter() - start, labels)

    return call


def traced_tool(target: Any, tool: str, methods: Mapping[str, Method] | tuple[str, ...]) -> Any:
    """A traced proxy of any tool object (e.g. the ``Recommender``):
    ``traced_tool(rec, "recommender", ("recommend",))``."""
    if not isinstance(methods, Mapping):
        methods = {m: Method(describe=_count) for m in methods}
    return TracedTool(target, tool, methods)


def instrument_services(svc: Any) -> Any:
    """A copy of the node ``Services`` whose tools and guardrails are traced.

    The suite's audit log is wrapped in place (once): alerts are queued from inside the
    suite (a disclosure in ``check_input``) as well as by the intervention node, and all
    of them should be counted. The wrapper forwards everything else unchanged.
    """
    if isinstance(svc.store, TracedTool):
        return svc
    guards = svc.guards
    audit = getattr(guards, "audit", None)
    if audit is not None and not isinstance(audit, TracedTool):
        guards.audit = TracedTool(
            audit,
            "alerts",
            {"queue_alert": Method(_alert, _alert_metrics)},
            operation="guardrail",
        )
    return dataclasses.replace(
        svc,
        store=TracedTool(
            svc.store,
            "retriever",
            {"search": Method(_search), "get": Method(_passage)},
        ),
        mastery=TracedTool(
            svc.mastery,
            "mastery",
            {
                "get": Method(_count),
                "record": Method(_probability),
                "estimate": Method(_probability),
            },
        ),
        skills=traced_tool(svc.skills, "prerequisites", ("prerequisites", "unlocked", "frontier")),
        guards=TracedTool(
            guards,
            "guardrails",
            {
                "check_input": Method(_guard_outcome, _guard_metrics("input")),
                "check_output": Method(_guard_outcome, _guard_metrics("output")),
            },
            operation="guardrail",
        ),
    )
