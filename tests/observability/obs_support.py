"""In-memory capture of everything readloom's telemetry emits, and the PII scan over it.

Imported by name (``obs_support``): ``conftest.py`` puts this folder on ``sys.path``.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from readloom.observability.logs import configure_logging
from readloom.observability.telemetry import Telemetry, build_telemetry
from readloom.observability.tracing import bind


@dataclass
class Captured:
    telemetry: Telemetry
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    log_stream: io.StringIO = field(default_factory=io.StringIO)

    @property
    def log_lines(self) -> list[str]:
        return [line for line in self.log_stream.getvalue().splitlines() if line.strip()]

    def spans(self) -> list[ReadableSpan]:
        self.telemetry.force_flush()
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def points(self) -> list[tuple[str, dict[str, Any], Any]]:
        """(metric name, attributes, value or histogram count) for every data point."""
        out = []
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for p in metric.data.data_points:
                        value = getattr(p, "value", None)
                        if value is None:
                            value = getattr(p, "count", None)
                        out.append((metric.name, dict(p.attributes), value))
        return out

    def metric(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        return [(attrs, value) for n, attrs, value in self.points() if n == name]

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_lines]


def _flatten(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _flatten(v)
    elif isinstance(value, Iterable):
        for v in value:
            yield from _flatten(v)
    else:
        yield str(value)


def telemetry_text(captured: Captured) -> dict[str, list[str]]:
    """Every string the telemetry holds, by where it sits."""
    spans, events, resource, labels = [], [], [], []
    for s in captured.spans():
        spans.append(s.name)
        spans.extend(_flatten(dict(s.attributes or {})))
        if s.status.description:
            spans.append(s.status.description)
        resource.extend(_flatten(dict(s.resource.attributes)))
        for e in s.events:
            events.append(e.name)
            events.extend(_flatten(dict(e.attributes or {})))
        for link in s.links:
            spans.extend(_flatten(dict(link.attributes or {})))
    for name, attrs, _ in captured.points():
        labels.append(name)
        labels.extend(_flatten(attrs))
    return {
        "span attributes": spans,
        "span events": events,
        "resource": resource,
        "metric labels": labels,
        "logs": list(captured.log_lines),
    }


def pii_found(captured: Captured, values: Iterable[str]) -> list[tuple[str, str]]:
    """(where, value) for every PII value found anywhere, case-insensitively."""
    found = []
    texts = telemetry_text(captured)
    for value in values:
        needle = value.lower()
        for where, strings in texts.items():
            if any(needle in s.lower() for s in strings):
                found.append((where, value))
    return found


@contextmanager
def capture(
    *, log_level: str = "DEBUG", environ: dict[str, str] | None = None, prometheus: Any = None
) -> Iterator[Captured]:
    """Fresh providers with in-memory exporters (plus whatever ``environ`` configures),
    bound to readloom's instrumentation (no OpenTelemetry globals touched), and JSON logs
    from every logger into memory."""
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = build_telemetry(
        environ=environ or {},
        span_processors=[SimpleSpanProcessor(exporter)],
        metric_readers=[reader],
        prometheus_registry=prometheus,
    )
    bind(telemetry.tracer_provider, telemetry.meter_provider)
    cap = Captured(telemetry=telemetry, exporter=exporter, reader=reader)
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(level=log_level, stream=cap.log_stream)
    try:
        yield cap
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        bind(None, None)
        telemetry.shutdown()
