"""Observability: OpenTelemetry traces and metrics, JSON logs and the cost report.

Nothing here records a student's words or name: spans, events, metric labels and log
fields hold ids, codes, counts, entity *types*, models and timings only.

Public API (imported lazily, so ``readloom.llm`` can use the instrumentation helpers
without pulling in the SDK set-up or FastAPI):

- ``configure_telemetry(settings)`` — providers from the ``OTEL_*`` environment (telemetry)
- ``configure_logging(settings)`` — JSON log lines with trace ids (logs)
- ``instrument_app(app, settings)`` — FastAPI spans and ``/metrics`` (http)
- ``traced(name, fn)``, ``turn_span(kind, session_id=…, tenant=…)`` — graph spans (nodes)
- ``instrument_services(svc)``, ``traced_tool(obj, name, methods)`` — tool spans (tools)
- ``cost_report(settings, since=…)`` — spend against the targets (cost)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "configure_telemetry": "telemetry",
    "build_telemetry": "telemetry",
    "Telemetry": "telemetry",
    "configure_logging": "logs",
    "instrument_app": "http",
    "traced": "nodes",
    "turn_span": "nodes",
    "instrument_services": "tools",
    "traced_tool": "tools",
    "cost_report": "cost",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'readloom.observability' has no attribute {name!r}")
    return getattr(importlib.import_module(f"readloom.observability.{module}"), name)
