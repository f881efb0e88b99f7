"""HTTP requests: the FastAPI server span is the parent of every graph span of the turn it
served (and continues a partner's ``traceparent``); paths are reported as route
templates, query strings and client addresses are withheld; ``/metrics`` serves the
Prometheus text format and is not itself traced."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from obs_support import capture, pii_found
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from readloom.observability import instrument_app
from readloom.service import Readloom

TENANT = "district-http"
PARTNER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PII = ["Xiomara", "Quennell", "xiomara.q@example.com", "203.0.113.9"]


def make_app(service: Readloom, telemetry: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/sessions/{session_id}/turns")
    async def turn(session_id: str, body: dict, note: str | None = None) -> dict:
        result = await service.tutor_turn(
            session_id=session_id, message=body["message"], passage_id=body.get("passage_id"),
            tenant=TENANT, student_id="stu-http",
        )  # fmt: skip
        return {"reply": result.reply, "blocked": result.blocked}

    instrument_app(app, telemetry=telemetry)
    instrument_app(app, telemetry=telemetry)  # idempotent
    return app


@pytest.fixture
def cap():
    with capture(
        environ={"OTEL_METRICS_EXPORTER": "prometheus"}, prometheus=CollectorRegistry()
    ) as c:
        yield c


async def test_request_span_parents_the_turn_and_hides_ids_queries_and_addresses(obs_services, cap):
    sid = f"ses-{uuid.uuid4().hex[:10]}"
    async with Readloom(obs_services.settings, services=obs_services) as service:
        app = make_app(service, cap.telemetry)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 51234))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://readloom.test"
        ) as client:
            resp = await client.post(
                f"/v1/sessions/{sid}/turns",
                params={"note": "Xiomara Quennell", "email": "xiomara.q@example.com"},
                json={"message": "hi, I'm Xiomara Quennell", "passage_id": "lighthouse-keeper"},
                headers={"traceparent": f"00-{PARTNER_TRACE}-00f067aa0ba902b7-01"},
            )
            assert resp.status_code == 200, resp.text
            metrics = await client.get("/metrics")

    (server,) = [s for s in cap.spans() if s.kind == SpanKind.SERVER]
    route = "/v1/sessions/{session_id}/turns"
    assert server.name == f"POST {route}"
    assert format(server.context.trace_id, "032x") == PARTNER_TRACE  # the partner's trace
    attrs = dict(server.attributes)
    assert attrs["http.route"] == route
    assert attrs["http.target"] == route  # not the path with the session id in it
    assert attrs["http.url"] == "http://readloom.test" + route  # no query string
    assert attrs["net.peer.ip"] == attrs["net.peer.port"] == "[withheld]"
    assert sid not in str(attrs)

    nodes = cap.named("node ")
    assert {s.attributes["readloom.node"] for s in nodes} >= {"guard_in", "planner", "executor"}
    spans = {s.context.span_id: s for s in cap.spans()}
    for s in nodes:
        assert s.context.trace_id == server.context.trace_id
        parent = spans[s.parent.span_id]
        if parent.name.startswith("readloom "):  # the service's own turn span, if it opens one
            parent = spans[parent.parent.span_id]
        assert parent is server
        assert s.attributes["session.id"] == sid  # pseudonymous; only in graph spans

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    body = metrics.text
    assert "readloom_node_duration" in body and "http_server_duration" in body
    assert f'tenant="{TENANT}"' in body
    assert not [s for s in cap.spans() if "/metrics" in s.name]  # scrapes are not traced
    assert pii_found(cap, PII) == []
    assert not [v for v in PII if v.lower() in body.lower()]
