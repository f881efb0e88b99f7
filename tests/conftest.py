"""Shared test set-up: a private READLOOM_HOME per test, no provider keys, no network
beyond loopback."""

from __future__ import annotations

import gc
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


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage_between_modules():
    """Collect a module's garbage before the next module runs, with no event loop running.

    An SDK client a test left unclosed (``openai``/``anthropic``'s async clients) closes
    itself when collected, by scheduling ``aclose()`` on whatever loop is running then. If
    that is a later test's loop, the close fails ("Event loop is closed", the first test's
    loop) and asyncio logs the error there: it once landed on stderr in a CLI test that
    counts stderr lines. Collected here, with no loop running, such a client does nothing."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("READLOOM_HOME", str(tmp_path / "home"))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
