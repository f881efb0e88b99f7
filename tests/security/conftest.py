"""The app under attack: ``readloom serve`` on its defaults (uvicorn on 127.0.0.1), a local
OpenAI-protocol server recording everything a provider would see, and two districts with a
key for every role. Files and tables are inspected after the attacks."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.llm_servers import FakeLLMServer, Reply, fake_openai_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from apitest_support import Server, World, make_world, start_thread_server  # noqa: E402
from security_support import HINT  # noqa: E402

from readloom.settings import Settings, configure_offline_environment  # noqa: E402

configure_offline_environment()


@pytest.fixture(scope="session")
def provider() -> Iterator[FakeLLMServer]:
    with fake_openai_server(default=Reply.ok(HINT)) as srv:
        yield srv


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readloom-home-sec")


@pytest.fixture(scope="session")
def settings(home: Path, provider: FakeLLMServer) -> Settings:
    return Settings(
        home=home, providers=["openai", "offline"], openai_api_key="sk-test",
        openai_base_url=provider.base_url, llm_max_attempts=1, llm_timeout_s=10,
    )  # fmt: skip


@pytest.fixture(scope="session")
def services(settings: Settings) -> Any:
    from readloom.service import build_services

    return build_services(settings)


@pytest.fixture(scope="session")
def server(settings: Settings, services: Any) -> Iterator[Server]:
    ts, base = start_thread_server(settings, services)  # the API's default config
    try:
        yield Server(base_url=base, settings=settings, backend="sqlite")
    finally:
        ts.stop()


@pytest.fixture
def district_a(server: Server) -> Iterator[World]:
    w = make_world(server, f"a-{uuid.uuid4().hex[:8]}")
    yield w
    w.close()


@pytest.fixture
def district_b(server: Server) -> Iterator[World]:
    w = make_world(server, f"b-{uuid.uuid4().hex[:8]}")
    yield w
    w.close()
