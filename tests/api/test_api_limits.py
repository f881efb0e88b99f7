"""Everything a client can send wrong gets a clear 4xx problem: size, rate, shape, route."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from apitest_support import Server, World, assert_problem, start_thread_server

from readloom.api.config import ApiConfig
from readloom.settings import Settings


def test_declared_body_over_the_limit_is_413(world: World) -> None:
    r = world.admin.post("/v1/classes", content=b"{" + b" " * 70_000 + b"}",
                         headers={"content-type": "application/json"})  # fmt: skip
    body = assert_problem(r, 413, "payload_too_large")
    assert "65536" in body["detail"]


def test_chunked_body_over_the_limit_is_413(world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"a" * 8192
        yield b'"}'

    r = world.admin.post(
        "/v1/classes", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(r, 413, "payload_too_large")


def test_passage_ingest_has_its_own_larger_limit(world: World) -> None:
    text = ("The fox ran through the quiet woods at dawn. " * 2000).encode()  # ~90 KB
    r = world.teacher.post(
        f"/v1/passages?passage_id=big-{world.tenant}&title=Fox&grade=3",
        content=text,
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 201, r.text


def test_validation_errors_name_the_field(world: World) -> None:
    r = world.partner.post("/v1/classes", json={"name": "A", "student_ids": ["bad id with spaces"]})
    body = assert_problem(r, 422, "validation_error")
    assert "student_ids" in body["detail"]
    assert body["errors"][0]["loc"].startswith("body.student_ids")
    assert "input" not in body["errors"][0]  # never echoes what was sent
    r = world.partner.post("/v1/classes", json={"name": "A", "unexpected": 1})
    assert "unexpected" in assert_problem(r, 422)["detail"]
    r = world.partner.get("/v1/sessions?limit=0")
    assert "limit" in assert_problem(r, 422)["detail"]


def test_over_long_values_are_422_not_a_database_error(world: World) -> None:
    """Column sizes are enforced by validation (Postgres would refuse the row)."""
    long_url = "https://" + "a" * 600 + ".example.org/"
    r = world.admin.put("/v1/tenant", json={"home_page": long_url})
    assert "home_page" in assert_problem(r, 422)["detail"]
    r = world.partner.post("/v1/webhooks", json={"url": "https://x.org/" + "a" * 2100})
    assert "url" in assert_problem(r, 422)["detail"]
    r = world.partner.post(
        "/v1/students/s1/graded-responses", json={"skill": "s" * 150, "correct": True}
    )
    assert "skill" in assert_problem(r, 422)["detail"]


def test_unknown_route_wrong_method_and_media_type(world: World) -> None:
    assert_problem(world.admin.get("/v1/nothing-here"), 404)
    assert_problem(world.admin.delete("/v1/sessions"), 405)
    r = world.teacher.post(
        "/v1/passages", content=b"<xml/>", headers={"content-type": "application/xml"}
    )
    assert_problem(r, 415, "unsupported_media_type")
    r = world.teacher.post(
        "/v1/passages", content=b"\xff\xfe", headers={"content-type": "text/plain"}
    )
    assert_problem(r, 422)


def test_bad_idempotency_key(world: World) -> None:
    r = world.partner.post(
        "/v1/classes", json={"name": "A"}, headers={"Idempotency-Key": "k" * 300}
    )
    assert "Idempotency-Key" in assert_problem(r, 422)["detail"]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, services: Any) -> Iterator[Server]:
    settings = Settings(home=tmp_path_factory.mktemp("limited"))
    ts, base = start_thread_server(settings, services, ApiConfig(rate_limit_per_minute=3))
    try:
        yield Server(base_url=base, settings=settings, backend="sqlite")
    finally:
        ts.stop()


def test_rate_limit_per_key_is_429_with_retry_after(limited: Server) -> None:
    a = limited.client(limited.key("rl-a", "admin"))
    b = limited.client(limited.key("rl-a", "admin"))
    statuses = [a.get("/v1/sessions").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    r = a.get("/v1/sessions")
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    assert b.get("/v1/sessions").status_code == 200  # another key has its own budget


def test_health_endpoints(world: World) -> None:
    with world.server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok", "checks": {}}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "service": "ok", "corpus": "ok"}


def test_openapi_has_stable_ids_and_problem_responses(world: World) -> None:
    with world.server.client() as c:
        spec = c.get("/openapi.json").json()
    ops = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    for name in ("create_session", "post_message", "get_history", "generate_questions",
                 "get_question_job", "ingest_passages", "list_passages", "get_passage",
                 "get_mastery", "get_recommendation", "post_graded_response", "list_alerts",
                 "acknowledge_alert", "create_webhook", "list_statements", "export_student",
                 "delete_student", "healthz", "readyz"):  # fmt: skip
        assert name in ops
    assert "Problem" in spec["components"]["schemas"]
    assert "application/problem+json" in ops["create_session"]["responses"]["422"]["content"]


@pytest.fixture(scope="module")
def on_redis(tmp_path_factory: pytest.TempPathFactory, services: Any) -> Iterator[Server]:
    import os

    url = os.environ.get("READLOOM_TEST_REDIS_URL")
    if not url:
        pytest.skip('READLOOM_TEST_REDIS_URL is not set (run: eval "$(bash .ci/redis.sh)")')
    settings = Settings(home=tmp_path_factory.mktemp("limits-redis"), redis_url=url)
    ts, base = start_thread_server(settings, services)
    try:
        yield Server(base_url=base, settings=settings, backend="sqlite")
    finally:
        ts.stop()


def test_redis_limits_are_never_counted_on_the_event_loop(
    on_redis: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each shared limit is a Redis round trip: on the event loop it would stall every
    request the worker is serving. The per-key, per-student, per-tenant and batch limits
    all count from a thread, and still count (a flood is still refused)."""
    import asyncio
    import contextlib

    from readloom.storage.ratelimit import Limiter

    calls: list[str] = []
    on_loop: list[str] = []
    hit = Limiter.hit

    def watched(self: Limiter, scope: str, key: str, per_minute: int) -> float:
        calls.append(scope)
        with contextlib.suppress(RuntimeError):  # no running loop: a worker thread
            asyncio.get_running_loop()
            on_loop.append(scope)
        return hit(self, scope, key, per_minute)

    monkeypatch.setattr(Limiter, "hit", watched)
    tenant = f"rl-{uuid.uuid4().hex[:8]}"
    teacher = on_redis.client(on_redis.key(tenant, "teacher", "t1"))
    partner = on_redis.client(on_redis.key(tenant, "partner"))
    sid = partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": "lighthouse-keeper"}
    ).json()["id"]
    assert partner.post(f"/v1/sessions/{sid}/messages", json={"text": "hi"}).status_code == 200
    r = teacher.post("/v1/questions", json={"passage_id": "lighthouse-keeper", "count": 2})
    assert r.status_code == 200
    assert {"api_key", "student_turns", "tenant_turns"} <= set(calls)
    assert on_loop == []
