"""Real servers for the API tests: uvicorn on 127.0.0.1 (a thread, or a subprocess for
the kill -9 test), on SQLite and, when ``READLOOM_TEST_POSTGRES_URL`` is set, Postgres.

The tutoring service's models load once per test session and are shared by every server
started in this process; each test gets a fresh tenant, so tests never see each other.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apitest_support import (  # noqa: E402
    BACKENDS,
    PG_URL,
    Server,
    World,
    fresh_postgres_database,
    make_world,
    start_thread_server,
)

from readloom.api.config import ApiConfig  # noqa: E402
from readloom.settings import Settings, configure_offline_environment  # noqa: E402

configure_offline_environment()


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readloom-home")


@pytest.fixture(scope="session")
def services(shared_home: Path, database_url: str | None) -> Any:
    """The tutoring service's models and stores, loaded once per backend: its stores
    are tables of the server's one database."""
    from readloom.service import build_services

    return build_services(Settings(home=shared_home, database_url=database_url))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    assert PG_URL
    with fresh_postgres_database(PG_URL) as url:
        yield url


@pytest.fixture(scope="session")
def server(
    backend: str, database_url: str | None, shared_home: Path, services: Any
) -> Iterator[Server]:
    # The webhook tests' receivers listen on http://127.0.0.1: this server opts in to
    # both; the defaults (https, public addresses only) are tested in test_webhook_ssrf.py.
    settings = Settings(
        home=shared_home, database_url=database_url,
        webhook_allow_http=True, webhook_allow_private=True,
    )  # fmt: skip
    config = ApiConfig(
        rate_limit_per_minute=100_000, webhook_backoff_base_s=0.2, outbox_poll_s=0.1,
        max_body_bytes=64 * 1024,
    )  # fmt: skip
    ts, base = start_thread_server(settings, services, config)
    try:
        yield Server(base_url=base, settings=settings, backend=backend)
    finally:
        ts.stop()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def world(server: Server, tenant: str) -> Iterator[World]:
    w = make_world(server, tenant)
    try:
        yield w
    finally:
        w.close()
