"""The job queue's promises, on SQLite and Postgres: two worker processes share the
jobs and run each once; a worker killed with SIGKILL mid-job loses nothing, and the
other worker runs that job exactly once more; attempts are bounded."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from readloom.errors import InputError
from readloom.service.jobs import QuestionJobRunner
from readloom.settings import Settings
from readloom.storage.db import Database, migrate, sync_engine
from readloom.storage.leases import open_leases
from readloom.storage.models import QuestionJob, Tenant, Webhook, WebhookDelivery

WORKER = Path(__file__).with_name("job_worker.py")


def _seed(settings: Settings, jobs: dict[str, dict[str, Any]], **fields: Any) -> None:
    migrate(settings)
    engine = sync_engine(settings)
    with Session(engine) as s, s.begin():
        s.add(Tenant(id="t1", home_page="https://t1.example"))
        s.flush()
        s.add(Webhook(id="wh1", tenant_id="t1", url="https://hooks.example/x", secret="k"))
        for job_id, request in jobs.items():
            s.add(QuestionJob(id=job_id, tenant_id="t1", request=request, **fields))
    engine.dispose()


def _jobs(settings: Settings) -> dict[str, QuestionJob]:
    engine = sync_engine(settings)
    with Session(engine) as s:
        rows = {j.id: j for j in s.scalars(select(QuestionJob))}
        s.expunge_all()
    engine.dispose()
    return rows


def _completions(settings: Settings) -> int:
    engine = sync_engine(settings)
    with Session(engine) as s:
        n = s.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.event_type == "question_job.completed")
        )
    engine.dispose()
    return int(n or 0)


def _wait(cond: Any, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_workers_kill_one_mid_job_the_other_runs_it_once(
    settings: Settings, tmp_path: Path
) -> None:
    quick = {f"q{i}": {"name": f"q{i}", "count": 1} for i in range(6)}
    _seed(settings, {"slow": {"name": "slow", "count": 1, "block": True}} | quick)
    runs = tmp_path / "runs"
    runs.mkdir()
    args = [str(settings.home), str(runs)] + (
        [settings.database_url] if settings.database_url else []
    )
    logs = [(tmp_path / f"w{i}.log").open("wb") for i in range(2)]
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), *args], stdout=log, stderr=subprocess.STDOUT)
        for log in logs
    ]
    try:
        _wait(lambda: len(list(runs.glob("ready.*"))) == 2)
        _wait(lambda: bool(list(runs.glob("slow.*"))))
        time.sleep(1.0)  # five polls of each worker while the slow job runs
        (first,) = runs.glob("slow.*")  # leased: the other worker never started it too
        holder = int(first.name.split(".")[1])
        victim = next(p for p in procs if p.pid == holder)
        survivor = next(p for p in procs if p.pid != holder)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        (runs / "release").write_text("")
        _wait(lambda: all(j.status == "succeeded" for j in _jobs(settings).values()))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        for log in logs:
            log.close()
    jobs = _jobs(settings)
    slow = jobs["slow"]
    assert slow.attempts == 2 and slow.result == {"worker": survivor.pid}
    assert slow.claimed_by is not None and slow.claimed_by.endswith(f":{survivor.pid}")
    assert sorted(p.name for p in runs.glob("slow.*")) == sorted(
        [f"slow.{holder}.0", f"slow.{survivor.pid}.1"]
    )  # started once by each: the victim's run, then the survivor's, never both at once
    for name, job in jobs.items():
        by = [int(p.name.split(".")[1]) for p in runs.glob(f"{name}.*")]
        winner = job.result["worker"]
        assert by.count(winner) == 1, name  # finished by one run of one worker
        # a second start only where the victim was killed before it recorded an outcome
        assert by == [winner] or (sorted(by) == sorted([holder, survivor.pid])), name
        assert job.attempts == len(by), name
        assert job.request == {"count": 1}, name  # the posted request is forgotten
    assert _completions(settings) == len(jobs)  # one completion event per job, no doubles


def _runner(settings: Settings, work: Any, **kw: Any) -> tuple[Database, Any, QuestionJobRunner]:
    db = Database(settings)
    leases = open_leases(settings)
    return db, leases, QuestionJobRunner(db, leases, work, poll_s=0.05, **kw)


async def _drain(runner: QuestionJobRunner, db: Database, rounds: int = 200) -> None:
    for _ in range(rounds):  # bounded
        await runner.poll_once()
        await asyncio.sleep(0.02)
        async with db.reader() as s:  # not the sync engine: it would block this loop
            states = set((await s.execute(select(QuestionJob.status))).scalars())
        if states <= {"succeeded", "failed"} and not runner._running:
            return
    raise AssertionError("jobs did not finish")


def test_transient_failures_are_retried_a_bounded_number_of_times(settings: Settings) -> None:
    _seed(settings, {"flaky": {"count": 1}, "broken": {"count": 2}, "bad": {"count": 3}})
    calls: dict[int, int] = {}

    async def work(request: dict[str, Any], tenant: str) -> dict[str, Any]:
        n = request["count"]
        calls[n] = calls.get(n, 0) + 1
        if n == 3:
            raise InputError("not a passage")  # the request is wrong: never retried
        if n == 2 or calls[n] < 2:
            raise RuntimeError("model server hiccup")
        return {"ok": True}

    async def go() -> None:
        db, leases, runner = _runner(settings, work, max_attempts=3)
        try:
            await _drain(runner, db)
        finally:
            await leases.close()
            await db.dispose()

    asyncio.run(go())
    jobs = _jobs(settings)
    assert (jobs["flaky"].status, jobs["flaky"].attempts, jobs["flaky"].result) == (
        "succeeded", 2, {"ok": True},
    )  # fmt: skip
    assert (jobs["broken"].status, jobs["broken"].error, jobs["broken"].attempts) == (
        "failed", "internal_error", 3,
    )  # fmt: skip
    assert (jobs["bad"].status, jobs["bad"].error, calls[3]) == ("failed", "invalid_input", 1)
    assert calls[2] == 3


def test_a_job_whose_workers_kept_dying_gives_up_without_running(settings: Settings) -> None:
    _seed(settings, {"poison": {"count": 1}}, status="running", attempts=3)
    ran: list[str] = []

    async def work(request: dict[str, Any], tenant: str) -> dict[str, Any]:
        ran.append(tenant)
        return {}

    async def go() -> None:
        db, leases, runner = _runner(settings, work, max_attempts=3)
        try:
            await _drain(runner, db)
        finally:
            await leases.close()
            await db.dispose()

    asyncio.run(go())
    job = _jobs(settings)["poison"]
    assert (job.status, job.error, ran) == ("failed", "gave_up", [])
    assert _completions(settings) == 1  # the teacher hears that it failed


def test_a_lease_has_one_holder_and_is_free_after_release(settings: Settings) -> None:
    migrate(settings)

    async def go() -> None:
        a, b = open_leases(settings), open_leases(settings)
        try:
            assert await a.try_acquire("job:1")
            assert not await a.try_acquire("job:1")  # not re-entrant in one process
            assert await a.holds("job:1") and not await b.holds("job:1")
            assert not await b.try_acquire("job:1")  # another app in this process
            await a.release("job:1")
            assert not await a.holds("job:1")
            assert await b.try_acquire("job:1")
            # requests racing in one process (one Postgres session, where advisory locks
            # are re-entrant): exactly one gets the key
            raced = await asyncio.gather(*(a.try_acquire("job:2") for _ in range(4)))
            assert sorted(raced) == [False, False, False, True]
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())
