"""Shared test set-up: a private READLOOM_HOME per test, no provider keys, no network
beyond loopback."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

import pytest

from readloom.settings import configure_offline_environment, get_settings

configure_offline_environment()
# Shared fakes (local OpenAI/Anthropic servers): `from fakes.llm_servers import ...`.
sys.path.insert(0, str(Path(__file__).parent))

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise OSError(f"tests may not reach {host}: network access is loopback-only")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("READLOOM_HOME", str(tmp_path / "home"))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
