"""Exporters are configured through the standard ``OTEL_*`` variables, nothing is exported
unless configured, OTLP really reaches a collector, and ``configure_telemetry`` is
idempotent (checked in a fresh interpreter, since it sets process globals)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from readloom.observability.telemetry import (
    TelemetryConfigError,
    build_telemetry,
    exporter_names,
)
from readloom.observability.tracing import bind, instruments, span

_OTEL_VARS = [k for k in os.environ if k.startswith("OTEL_")]


@pytest.fixture(autouse=True)
def _clean_otel_env(monkeypatch):
    for key in _OTEL_VARS:
        monkeypatch.delenv(key, raising=False)
    yield
    bind(None, None)


@pytest.mark.parametrize(
    ("env", "signal", "expected"),
    [
        ({}, "traces", []),
        ({"OTEL_TRACES_EXPORTER": "none"}, "traces", []),
        ({"OTEL_TRACES_EXPORTER": "console"}, "traces", ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "traces", ["otlp_proto_http"]),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "traces",
            ["otlp_proto_grpc"],
        ),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp,console",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            },
            "traces",
            ["otlp_proto_http", "console"],
        ),
        (
            {"OTEL_METRICS_EXPORTER": "prometheus,otlp"},
            "metrics",
            ["prometheus", "otlp_proto_http"],
        ),
    ],
)
def test_exporter_names_follow_the_otel_variables(env, signal, expected):
    assert exporter_names(signal, env) == expected


def test_nothing_is_installed_unless_configured():
    telemetry = build_telemetry(environ={})
    assert telemetry.tracer_provider is None and telemetry.meter_provider is None
    bind(telemetry.tracer_provider, telemetry.meter_provider)
    with span("anything") as current:  # the no-op fast path
        assert not current.is_recording()


def test_sdk_disabled_wins_over_exporters():
    env = {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}
    assert build_telemetry(environ=env).tracer_provider is None


def test_unknown_exporter_or_protocol_is_a_clear_error():
    with pytest.raises(TelemetryConfigError, match="no traces exporter named 'zipkin-ish'"):
        build_telemetry(environ={"OTEL_TRACES_EXPORTER": "zipkin-ish"})
    with pytest.raises(TelemetryConfigError, match="unsupported OTLP protocol"):
        exporter_names(
            "traces", {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "x"}
        )


def test_service_name_defaults_to_readloom_and_honours_otel_service_name(monkeypatch):
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(environ={}, span_processors=[SimpleSpanProcessor(exporter)])
    assert telemetry.tracer_provider.resource.attributes["service.name"] == "readloom"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "readloom-eu")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    telemetry = build_telemetry(environ={}, span_processors=[SimpleSpanProcessor(exporter)])
    attrs = telemetry.tracer_provider.resource.attributes
    assert attrs["service.name"] == "readloom-eu"
    assert attrs["deployment.environment"] == "staging"


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list]]:
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Collector.received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_otlp_exporter_sends_readloom_spans_to_the_configured_collector(monkeypatch, collector):
    endpoint, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)  # read by the exporter itself
    telemetry = build_telemetry(environ={"OTEL_TRACES_EXPORTER": "otlp"})
    assert telemetry.trace_exporters == ["otlp_proto_http"]
    bind(telemetry.tracer_provider, None)
    with span("node planner", {"readloom.node": "planner"}):
        pass
    telemetry.force_flush()
    telemetry.shutdown()
    paths = [p for p, _ in received]
    assert "/v1/traces" in paths
    request = ExportTraceServiceRequest()
    request.ParseFromString(next(b for p, b in received if p == "/v1/traces"))
    names = [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert names == ["node planner"]


def test_prometheus_exporter_serves_readloom_metrics():
    registry = CollectorRegistry()
    telemetry = build_telemetry(
        environ={"OTEL_METRICS_EXPORTER": "prometheus"}, prometheus_registry=registry
    )
    assert telemetry.prometheus_registry is registry
    bind(None, telemetry.meter_provider)
    instruments().failovers.add(1, {"provider": "openai", "reason": "server"})
    text = generate_latest(registry).decode()
    assert "readloom_llm_failovers_total{" in text
    assert 'provider="openai"' in text and 'reason="server"' in text
    telemetry.shutdown()


def test_extra_readers_and_processors_are_used_alongside_the_environment():
    reader, exporter = InMemoryMetricReader(), InMemorySpanExporter()
    telemetry = build_telemetry(
        environ={}, span_processors=[SimpleSpanProcessor(exporter)], metric_readers=[reader]
    )
    bind(telemetry.tracer_provider, telemetry.meter_provider)
    with span("readloom tutor_turn"):
        instruments().turn_duration.record(0.2, {"kind": "tutor_turn"})
    assert [s.name for s in exporter.get_finished_spans()] == ["readloom tutor_turn"]
    names = [
        m.name
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    ]
    assert "readloom.turn.duration" in names


_CHILD = """
import json, sys
from readloom.observability import configure_telemetry
from readloom.observability.tracing import span
from opentelemetry import trace
first = configure_telemetry()
second = configure_telemetry()
with span("readloom probe"):
    pass
first.force_flush()
print(json.dumps({"same": first is second,
                  "global": trace.get_tracer_provider() is first.tracer_provider,
                  "exporters": first.trace_exporters}), file=sys.stderr)
"""


def test_configure_telemetry_is_idempotent_and_console_export_works(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "readloom-test"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"same": True, "global": True, "exporters": ["console"]}
    exported = json.loads(proc.stdout)  # the console exporter prints the span as JSON
    assert exported["name"] == "readloom probe"
    assert exported["resource"]["attributes"]["service.name"] == "readloom-test"
