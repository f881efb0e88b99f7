"""The nightly refit: one run per night across servers, wired to the job runner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

import pytest
from bkt_sim import simulate

from readloom.mlops.registry import Registry
from readloom.mlops.schedule import next_run, nightly_refit, parse_schedule, run_schedule
from readloom.settings import get_settings
from readloom.storage.db import Database, migrate
from readloom.tools.mastery import MasteryStore


def test_schedule_parsing_and_next_run() -> None:
    at = parse_schedule("02:30")
    assert at == time(2, 30, tzinfo=UTC)
    assert parse_schedule("off") is None
    assert next_run(datetime(2026, 12, 1, 1, 0, tzinfo=UTC), at) == datetime(
        2026, 12, 1, 2, 30, tzinfo=UTC
    )
    assert next_run(datetime(2026, 12, 1, 3, 0, tzinfo=UTC), at).day == 2
    with pytest.raises(Exception, match="HH:MM"):
        parse_schedule("nightly")


async def test_nightly_refit_runs_once_per_night_from_the_apps_attempts() -> None:
    settings = get_settings()
    migrate(settings)
    db = Database(settings)
    store = MasteryStore(settings)
    for u, s, c, _ in simulate(120, 6, seed=7):
        store.record(u, s, c)
    try:
        first, second = await asyncio.gather(
            nightly_refit(settings, db, store, period="2026-12-01"),
            nightly_refit(settings, db, store, period="2026-12-01"),
        )
        ran = [r for r in (first, second) if r is not None]
        assert len(ran) == 1 and ran[0]["promoted"], (first, second)
        assert store.model.info["registry_version"] == ran[0]["version"]  # served at once
        assert Registry(settings).production("mastery").version == ran[0]["version"]
        # the loop: a fake clock at 02:29:59 sleeps one second, then refits
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            if len(slept) > 1:
                raise asyncio.CancelledError

        clock = lambda: datetime(2026, 12, 2, 2, 29, 59, tzinfo=UTC)  # noqa: E731
        with pytest.raises(asyncio.CancelledError):
            await run_schedule(settings, db, store, clock=clock, sleep=sleep)
        assert slept[0] == 1.0
        assert [r.version for r in Registry(settings).list("mastery")] == [1, 2]
    finally:
        store.close()
        await db.dispose()


async def test_monitor_loop_publishes_drift_gauges() -> None:
    from readloom.mlops.schedule import run_monitor
    from readloom.observability import instruments as inst

    settings = get_settings()
    migrate(settings)
    store = MasteryStore(settings)
    calls: list[float] = []

    async def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) > 2:
            raise asyncio.CancelledError

    inst._DRIFT.clear()
    try:
        for u, s, c, _ in simulate(40, 5, seed=8):
            store.record(u, s, c)
        with pytest.raises(asyncio.CancelledError):
            await run_monitor(settings, store, sleep=sleep)
    finally:
        store.close()
    assert calls[0] == settings.monitor_interval_s
    # too few events for a verdict yet, but the calibration feature is reported (0 = no drift)
    assert inst._DRIFT[("bkt_calibration", "drifted")] == 0.0
