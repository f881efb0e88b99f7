"""OpenTelemetry set-up, configured the way operators already configure it: ``OTEL_*``.

- ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: comma-separated exporter names
  (``otlp``, ``console``, ``none``, ``prometheus`` for metrics, or any exporter a plugin
  registers under the SDK's entry points). ``otlp`` speaks the protocol in
  ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]PROTOCOL`` (``http/protobuf`` by default, as
  the specification says; ``grpc`` if that exporter is installed).
- Everything else is the SDK's own handling: ``OTEL_EXPORTER_OTLP_ENDPOINT``/``_HEADERS``
  (read by the exporters), ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``
  (``Resource.create``), ``OTEL_TRACES_SAMPLER[_ARG]`` (``TracerProvider``),
  ``OTEL_BSP_*`` (batch span processor), ``OTEL_METRIC_EXPORT_INTERVAL`` (periodic
  reader), ``OTEL_SDK_DISABLED``.
- ``prometheus``: metrics are served for scraping at ``/metrics`` on the API app
  (``observability.http.instrument_app``) and, when ``OTEL_EXPORTER_PROMETHEUS_PORT`` is
  set, on that port (host ``OTEL_EXPORTER_PROMETHEUS_HOST``, default ``localhost``), e.g.
  for a CLI batch job.

One deliberate difference from the SDK's auto-configuration: with no ``OTEL_*_EXPORTER``
set, nothing is exported (the SDK would default to OTLP), and no SDK provider is even
installed, so instrumented code stays on the no-op fast path.

These variables are read here rather than in ``settings.py`` because they are the
OpenTelemetry SDK's contract, shared with every other instrumented process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.environment_variables import OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_PROMETHEUS_HOST,
    OTEL_EXPORTER_PROMETHEUS_PORT,
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from readloom.observability.tracing import bind
from readloom.settings import Settings

log = logging.getLogger(__name__)

_OTLP_BY_PROTOCOL = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}
_PROTOCOL_ENV = {"traces": OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "metrics": OTEL_EXPORTER_OTLP_METRICS_PROTOCOL}  # fmt: skip
_EXPORTER_ENV = {"traces": OTEL_TRACES_EXPORTER, "metrics": OTEL_METRICS_EXPORTER}
_ENTRY_POINT_GROUP = {
    "traces": "opentelemetry_traces_exporter",
    "metrics": "opentelemetry_metrics_exporter",
}


class TelemetryConfigError(ValueError):
    """An ``OTEL_*`` variable names an exporter or protocol that is not available."""


@dataclass
class Telemetry:
    """What ``configure_telemetry`` set up. ``None`` providers mean that signal is off."""

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    trace_exporters: list[str] = field(default_factory=list)
    metric_exporters: list[str] = field(default_factory=list)
    prometheus_registry: Any = None  # a prometheus_client CollectorRegistry when scraping

    @property
    def tracing(self) -> bool:
        return self.tracer_provider is not None

    def force_flush(self) -> None:
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush()
        if self.meter_provider is not None:
            self.meter_provider.force_flush()

    def shutdown(self) -> None:
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


def exporter_names(signal: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Entry-point names of the exporters ``OTEL_<SIGNAL>_EXPORTER`` asks for."""
    env = os.environ if environ is None else environ
    raw = env.get(_EXPORTER_ENV[signal], "").strip()
    names = [n.strip() for n in raw.split(",") if n.strip() and n.strip().lower() != "none"]
    out = []
    for name in names:
        if name == "otlp":
            protocol = (
                env.get(_PROTOCOL_ENV[signal]) or env.get(OTEL_EXPORTER_OTLP_PROTOCOL) or "http/protobuf"
            ).strip()  # fmt: skip
            if protocol not in _OTLP_BY_PROTOCOL:
                raise TelemetryConfigError(f"unsupported OTLP protocol {protocol!r}")
            name = _OTLP_BY_PROTOCOL[protocol]
        out.append(name)
    return out


def _load(signal: str, name: str) -> type:
    found = entry_points(group=_ENTRY_POINT_GROUP[signal], name=name)
    if not found:
        raise TelemetryConfigError(
            f"{_EXPORTER_ENV[signal]}: no {signal} exporter named {name!r} is installed"
        )
    return next(iter(found)).load()


def _resource() -> Resource:
    from readloom import __version__

    resource = Resource.create({SERVICE_VERSION: __version__})
    if not os.environ.get(OTEL_SERVICE_NAME) and str(
        resource.attributes.get(SERVICE_NAME, "")
    ).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "readloom"}))
    return resource


def build_telemetry(
    *,
    environ: Mapping[str, str] | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
    prometheus_registry: Any = None,
) -> Telemetry:
    """Providers for what the environment configures, plus any extra processors and
    readers (tests and benchmarks pass in-memory ones). Sets no globals."""
    env = os.environ if environ is None else environ
    if env.get(OTEL_SDK_DISABLED, "").strip().lower() == "true":
        return Telemetry()
    telemetry = Telemetry(
        trace_exporters=exporter_names("traces", env),
        metric_exporters=exporter_names("metrics", env),
    )
    resource = _resource()
    processors = list(span_processors)
    for name in telemetry.trace_exporters:
        processors.append(BatchSpanProcessor(_load("traces", name)()))
    if processors:
        telemetry.tracer_provider = TracerProvider(resource=resource)
        for processor in processors:
            telemetry.tracer_provider.add_span_processor(processor)

    readers = list(metric_readers)
    for name in telemetry.metric_exporters:
        if name == "prometheus":
            readers.append(_prometheus_reader(telemetry, env, prometheus_registry))
            continue
        exporter = _load("metrics", name)
        readers.append(
            exporter() if issubclass(exporter, MetricReader) else PeriodicExportingMetricReader(exporter())
        )  # fmt: skip
    if readers:
        telemetry.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return telemetry


def _prometheus_reader(telemetry: Telemetry, env: Mapping[str, str], registry: Any) -> MetricReader:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import REGISTRY, start_http_server

    registry = registry if registry is not None else REGISTRY
    telemetry.prometheus_registry = registry
    reader = PrometheusMetricReader(registry=registry)
    port = env.get(OTEL_EXPORTER_PROMETHEUS_PORT)
    if port:
        host = env.get(OTEL_EXPORTER_PROMETHEUS_HOST, "localhost")
        start_http_server(int(port), addr=host, registry=registry)
        log.info("telemetry_prometheus_port host=%s port=%s", host, port)
    return reader


_lock = threading.Lock()
_configured: Telemetry | None = None


def configure_telemetry(
    settings: Settings | None = None,
    *,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
) -> Telemetry:
    """Install the configured providers as the process's OpenTelemetry globals (so the
    FastAPI instrumentation and any other instrumented library share them) and point
    readloom's instrumentation at them. Idempotent: later calls return the first result.

    ``settings`` is accepted for symmetry with the other ``configure_*`` calls; the
    exporters themselves are the SDK's ``OTEL_*`` contract (see the module docstring).
    """
    global _configured
    with _lock:
        if _configured is not None:
            return _configured
        telemetry = build_telemetry(span_processors=span_processors, metric_readers=metric_readers)
        if telemetry.tracer_provider is not None:
            trace.set_tracer_provider(telemetry.tracer_provider)
        if telemetry.meter_provider is not None:
            metrics.set_meter_provider(telemetry.meter_provider)
        bind(telemetry.tracer_provider, telemetry.meter_provider)
        log.info(
            "telemetry_configured traces=%s metrics=%s",
            ",".join(telemetry.trace_exporters) or "-",
            ",".join(telemetry.metric_exporters) or "-",
        )
        _configured = telemetry
        return telemetry


def current_telemetry() -> Telemetry | None:
    return _configured
