"""Telemetry captured in memory (spans, metrics, JSON logs) around real service runs.

Nothing here touches the OpenTelemetry globals: each capture gets its own providers,
bound to readloom's instrumentation with ``tracing.bind`` and unbound afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from obs_support import Captured, capture  # noqa: E402

from readloom.settings import Settings, configure_offline_environment  # noqa: E402

configure_offline_environment()


@pytest.fixture(scope="session")
def obs_services(tmp_path_factory: pytest.TempPathFactory):
    """The real services on the offline provider, loaded once for this folder."""
    from readloom.service import build_services

    home = tmp_path_factory.mktemp("obs-home")
    # per-node checkpoints: the tests read which nodes ran from the checkpoint history,
    # independently of the instrumentation under test
    return build_services(Settings(home=home, providers=["offline"], checkpoint_durability="sync"))


@pytest.fixture
def captured() -> Iterator[Captured]:
    with capture() as cap:
        yield cap
