"""Scheduled model work: the nightly mastery refit.

The entry point is one function, ``nightly_refit(settings, db, store)``, plus one setting,
``READLOOM_REFIT_SCHEDULE`` (UTC ``HH:MM``, ``off`` to disable), so whatever runs
background jobs can call it. Today the API server's job runner starts ``run_schedule``
(``service/jobs.py``). Several servers may run it: each night is claimed by inserting a
``scheduled_runs`` row (primary key: name + date), so exactly one refit runs per night.

The same runner refreshes the drift gauges (``readloom.drift``) every
``READLOOM_MONITOR_INTERVAL_S`` from the database, so a metrics backend sees drift without
a cron job; ``readloom monitor`` is the same computation on demand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import anyio
from sqlalchemy.exc import IntegrityError

from readloom.errors import InputError, ReadloomError
from readloom.settings import Settings
from readloom.storage.db import Database
from readloom.storage.models import utcnow
from readloom.storage.models_mlops import ScheduledRun

log = logging.getLogger(__name__)
JOB = "mastery_refit"


def parse_schedule(value: str) -> time | None:
    if value.strip().lower() in ("off", "none", ""):
        return None
    try:
        hh, mm = value.strip().split(":")
        return time(int(hh), int(mm), tzinfo=UTC)
    except ValueError:
        raise InputError(f"refit schedule must be HH:MM (UTC) or 'off', got {value!r}") from None


def next_run(now: datetime, at: time) -> datetime:
    today = datetime.combine(now.date(), at.replace(tzinfo=None), tzinfo=UTC)
    return today if today > now else today + timedelta(days=1)


async def _claim(db: Database, period: str) -> bool:
    try:
        async with db.writer() as s:
            s.add(ScheduledRun(name=JOB, period=period, status="running"))
    except IntegrityError:
        return False
    return True


async def _finish(db: Database, period: str, status: str, result: dict[str, Any]) -> None:
    async with db.writer() as s:
        row = await s.get(ScheduledRun, (JOB, period))
        if row is not None:
            row.status, row.result, row.finished_at = status, result, utcnow()


async def nightly_refit(
    settings: Settings, db: Database, store: Any, *, period: str | None = None
) -> dict[str, Any] | None:
    """Run tonight's refit unless another server has claimed it; None if claimed."""
    from readloom.mlops.mastery_ops import refit
    from readloom.tools.mastery_model import BKTModel

    period = period or utcnow().date().isoformat()
    if not await _claim(db, period):
        return None
    try:
        out = await anyio.to_thread.run_sync(lambda: refit(settings, store=store))
    except ReadloomError as exc:  # e.g. no responses yet: recorded, not raised
        await _finish(db, period, "skipped", {"reason": exc.code, "message": exc.message[:200]})
        return {"skipped": exc.message}
    except Exception as exc:  # noqa: BLE001 - a failed refit leaves production serving
        log.warning("refit_error type=%s", type(exc).__name__)
        await _finish(db, period, "failed", {"error": type(exc).__name__})
        return {"failed": type(exc).__name__}
    if out["promoted"] and store is not None:
        store.model = BKTModel.load(settings.home / "mastery_model.json")
    await _finish(db, period, "succeeded", {k: out[k] for k in ("version", "promoted", "reason")})
    return out


async def run_schedule(
    settings: Settings,
    db: Database,
    store: Any,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    at = parse_schedule(settings.refit_schedule)
    if at is None:
        return
    while True:
        due = next_run(clock(), at)
        await sleep(max(0.0, (due - clock()).total_seconds()))
        await nightly_refit(settings, db, store, period=due.date().isoformat())


async def run_monitor(
    settings: Settings,
    store: Any,
    *,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    """Recompute the drift gauges every ``monitor_interval_s`` (first after one interval)."""
    from readloom.mlops.monitor import report_from_db
    from readloom.observability.instruments import publish_drift

    while True:
        await sleep(settings.monitor_interval_s)
        try:
            report = await anyio.to_thread.run_sync(lambda: report_from_db(settings, store=store))
        except Exception as exc:  # noqa: BLE001 - monitoring must not take the server down
            log.warning("monitor_error type=%s", type(exc).__name__)
            continue
        publish_drift(report["features"])
        if report["drifted"]:
            log.warning("drift_detected features=%s", ",".join(report["drifted"]))
