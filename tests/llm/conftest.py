"""LLM-layer fixtures. Makes ``tests/fakes`` importable as ``fakes`` (importlib mode puts
no test folder on ``sys.path``), and builds settings with small timeouts and backoffs so
every fault test finishes in well under a second or two."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from fakes.providers import FakeProvider  # noqa: E402

from readloom.settings import Settings  # noqa: E402

FAST = {
    "llm_timeout_s": 1.0,
    "llm_connect_timeout_s": 0.4,
    "llm_max_attempts": 3,
    "llm_backoff_initial_s": 0.01,
    "llm_backoff_max_s": 0.04,
    "llm_retry_after_max_s": 0.8,
    "breaker_failure_threshold": 3,
    "breaker_cooldown_s": 30.0,
}


def make_settings(**overrides: object) -> Settings:
    values = {"providers": ["openai", "anthropic", "offline"], **FAST, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings_for():
    """``settings_for(openai=srv, anthropic=srv2, **overrides)``: keys and base URLs."""

    def build(openai=None, anthropic=None, **overrides: object) -> Settings:
        if openai is not None:
            overrides.setdefault("openai_api_key", "sk-test")
            overrides.setdefault(
                "openai_base_url", openai if isinstance(openai, str) else openai.base_url
            )
        if anthropic is not None:
            overrides.setdefault("anthropic_api_key", "sk-ant-test")
            overrides.setdefault(
                "anthropic_base_url",
                anthropic if isinstance(anthropic, str) else anthropic.base_url,
            )
        return make_settings(**overrides)

    return build


@pytest.fixture
def offline() -> FakeProvider:
    return FakeProvider()
