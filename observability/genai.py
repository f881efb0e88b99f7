"""Spans and metrics for model calls, following the OpenTelemetry GenAI conventions.

Two levels, both called from ``readloom.llm`` with one line each:

- ``traced_generate`` decorates ``LLMGate.generate``: one ``readloom.llm <task>`` span per
  gate call (prompt id, cache, redaction entity types, provenance, cost);
- ``llm_attempt`` wraps each call the failover router makes: one ``chat <model>`` client
  span per attempt, with ``gen_ai.*`` attributes, the attempt number, the breaker state
  and the fallback reasons that led to this provider.

Prompts and completions are never recorded (the GenAI conventions make them opt-in;
readloom never opts in): only models, token counts, finish reasons and error kinds.
Nothing here imports the router or a provider: they are duck-typed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from opentelemetry.trace import SpanKind

from readloom.observability.tracing import add_event, code, codes, instruments, mark_failed, span


def _system(provider: str) -> dict[str, str]:
    return {"gen_ai.system": provider, "gen_ai.provider.name": provider}


async def llm_attempt(
    call: Callable[[], Awaitable[Any]], *, provider: Any, breaker: Any, trace: Any
) -> Any:
    """Await ``call`` (one attempt at ``provider``) inside a GenAI client span."""
    name = code(provider.name)
    model = code(getattr(provider, "model", "unknown"))
    previous = sum(1 for f in trace.failures if f.startswith(f"{provider.name}:"))
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        **_system(name),
        "gen_ai.request.model": model,
        "readloom.llm.attempt": int(trace.attempts),
        "readloom.llm.provider_attempt": previous + 1,
        "readloom.llm.breaker.state": code(breaker.state),
    }
    if trace.fallback_reasons:
        attrs["readloom.llm.fallback_reasons"] = codes(trace.fallback_reasons)
    labels = {"gen_ai.operation.name": "chat", **_system(name), "gen_ai.request.model": model}
    start = time.perf_counter()
    try:
        with span(f"chat {model}", attrs, kind=SpanKind.CLIENT) as current:
            try:
                value = await call()
            except BaseException as exc:
                kind = code(getattr(exc, "kind", None) or _kind(exc))
                labels["error.type"] = kind
                mark_failed(current, exc, kind=kind)
                if current.is_recording():
                    _describe_error(current, exc)
                raise
            if current.is_recording():
                _describe_result(current, value)
            return value
    finally:
        instruments().llm_attempt_duration.record(time.perf_counter() - start, labels)


def _kind(exc: BaseException) -> str:
    return "internal" if isinstance(exc, Exception) else "cancelled"


def _describe_error(current: Any, exc: BaseException) -> None:
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        current.set_attribute("http.response.status_code", status)
    retryable = getattr(exc, "retryable", None)
    if isinstance(retryable, bool):
        current.set_attribute("readloom.llm.retryable", retryable)
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float):
        current.set_attribute("readloom.llm.retry_after_s", float(retry_after))


def _describe_result(current: Any, value: Any) -> None:
    if isinstance(value, tuple):  # a stream that has started: (stream, first delta)
        current.set_attribute("readloom.llm.streaming", True)
        return
    current.set_attribute("gen_ai.response.model", code(getattr(value, "model", "unknown")))
    usage = getattr(value, "usage", None)
    if usage is not None:
        current.set_attribute("gen_ai.usage.input_tokens", int(usage.input_tokens))
        current.set_attribute("gen_ai.usage.output_tokens", int(usage.output_tokens))
    finish = getattr(value, "finish_reason", None)
    if finish:
        current.set_attribute("gen_ai.response.finish_reasons", [code(finish)])


# --- the gate ---------------------------------------------------------------------------


def traced_generate(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Decorates ``LLMGate.generate(self, req, **kw)``."""

    @functools.wraps(fn)
    async def generate(self: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        attrs: dict[str, Any] = {
            "readloom.llm.task": code(req.task),
            "readloom.llm.prompt": code(req.prompt_id),
            "gen_ai.request.max_tokens": int(req.max_tokens),
            "gen_ai.request.temperature": float(req.temperature),
            "readloom.llm.cacheable": bool(req.cacheable),
        }
        if req.only_providers is not None:
            attrs["readloom.llm.only_providers"] = codes(req.only_providers)
        with span(f"readloom.llm {code(req.task)}", attrs) as current:
            result = await fn(self, req, *args, **kwargs)
            if current.is_recording():
                current.set_attributes(provenance_attributes(result.provenance))
            return result

    return generate


def provenance_attributes(p: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "readloom.llm.provider": code(p.provider),
        "gen_ai.response.model": code(p.model),
        "readloom.llm.attempts": int(p.attempts),
        "readloom.llm.cached": bool(p.cached),
        "gen_ai.usage.input_tokens": int(p.input_tokens),
        "gen_ai.usage.output_tokens": int(p.output_tokens),
        "readloom.llm.cost_usd": float(p.cost_usd),
    }
    if p.fallback_reasons:
        attrs["readloom.llm.fallback_reasons"] = codes(p.fallback_reasons)
    return attrs


def record_redaction(entity_types: Iterable[str]) -> None:
    """PII found in a model request (types only), counted and put on the current span."""
    found = [code(e) for e in entity_types]
    if not found:
        return
    metrics = instruments()
    for entity in found:
        metrics.guard_entities.add(1, {"direction": "llm_request", "entity_type": entity})
    add_event("guardrail.redaction", {"entity_types": sorted(set(found)), "count": len(found)})


def record_cache_lookup(tenant: str, *, hit: bool) -> None:
    instruments().cache_lookups.add(1, {"tenant": code(tenant), "result": "hit" if hit else "miss"})
    if hit:
        add_event("llm.cache_hit", {})


def record_llm_call(
    *, tenant: str, task: str, provider: str, model: str, usage: Any, cost_usd: float,
    cached: bool = False,
) -> None:  # fmt: skip
    """Tokens and money per tenant and provider (from the gate, once per answered call)."""
    metrics = instruments()
    base = {"tenant": code(tenant), "provider": code(provider), "model": code(model)}
    metrics.llm_calls.add(1, base | {"task": code(task), "cached": str(bool(cached)).lower()})
    if cached:
        return
    for kind, n in (("input", usage.input_tokens), ("output", usage.output_tokens)):
        metrics.tokens.add(int(n), base | {"type": kind})
        metrics.token_usage.record(
            int(n),
            {
                **_system(code(provider)),
                "gen_ai.request.model": code(model),
                "gen_ai.token.type": kind,
            },
        )
    metrics.cost.add(float(cost_usd), base)


def record_failover(provider: str, err: Any) -> None:
    """The router left ``provider`` for the next tier (or gave up)."""
    reason = code(getattr(err, "kind", None) or "error")
    instruments().failovers.add(1, {"provider": code(provider), "reason": reason})
    event: dict[str, Any] = {"provider": code(provider), "reason": reason}
    status = getattr(err, "status", None)
    if isinstance(status, int):
        event["http.response.status_code"] = status
    add_event("llm.failover", event)
