"""HTTP telemetry for the API: request spans and latency, and the Prometheus endpoint.

``instrument_app(app, settings)`` (call it in ``create_app``) configures telemetry,
instruments the FastAPI app with ``opentelemetry-instrumentation-fastapi`` (a server
span per request, which every graph, tool and model span of that request nests under;
``http.server.duration`` histograms; W3C ``traceparent`` from partners honoured) and,
when metrics are scraped, serves them at ``/metrics``.

Request spans are made safe for children's data: the path is reported as its route
template (``/v1/students/{student_id}``), never with the ids in it; the query string and
the client's address (an IP address is personal information under COPPA) are withheld.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Span

from readloom.observability.telemetry import Telemetry, configure_telemetry
from readloom.settings import Settings

WITHHELD = "[withheld]"
NOT_TRACED = "/metrics,/healthz,/readyz"
_PATH_KEYS = ("http.target", "url.path")
_URL_KEYS = ("http.url", "url.full")
_WITHHELD_KEYS = (
    "url.query", "net.peer.ip", "net.peer.port", "client.address", "client.port",
    "http.client_ip", "net.sock.peer.addr", "net.sock.peer.port", "network.peer.address",
    "network.peer.port",
)  # fmt: skip


def _privacy_hook(current: Span, scope: dict[str, Any]) -> None:
    if not current.is_recording():
        return
    attrs = getattr(current, "attributes", None) or {}
    route = attrs.get("http.route") or "/{unmatched}"
    updates: dict[str, Any] = {}
    for key in _PATH_KEYS:
        if key in attrs:
            updates[key] = route
    for key in _URL_KEYS:
        if key in attrs:
            scheme = scope.get("scheme", "http")
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            updates[key] = f"{scheme}://{host}{route}"
    for key in _WITHHELD_KEYS:
        if key in attrs:
            updates[key] = WITHHELD
    current.set_attributes(updates)


def instrument_app(
    app: Any, settings: Settings | None = None, *, telemetry: Telemetry | None = None
) -> None:
    """Idempotent. Does nothing when no trace or metric exporter is configured.
    ``telemetry`` defaults to ``configure_telemetry(settings)`` (the process globals)."""
    telemetry = telemetry or configure_telemetry(settings)
    if getattr(app.state, "readloom_instrumented", False):
        return
    app.state.readloom_instrumented = True
    if telemetry.tracer_provider is None and telemetry.meter_provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        server_request_hook=_privacy_hook,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        excluded_urls=NOT_TRACED,
        exclude_spans=["receive", "send"],
    )
    if telemetry.prometheus_registry is not None:
        add_metrics_route(app, telemetry.prometheus_registry)


def add_metrics_route(app: Any, registry: Any) -> None:
    """``GET /metrics`` in the Prometheus text format (not in the OpenAPI schema).
    Expose it to the scraper only (network policy), like any operator endpoint."""
    import anyio
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.responses import Response

    async def metrics(_: Any) -> Response:
        body = await anyio.to_thread.run_sync(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
