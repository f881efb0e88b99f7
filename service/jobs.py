"""The background job queue: question-generation jobs for large batches.

The job rows are the queue. Every worker polls for unfinished jobs and runs one only
while it holds the job's lease (``storage/leases.py``: an advisory lock on Postgres, a
record lock on SQLite), which the database or the kernel drops the moment the worker
dies. So:

- no job is lost: a job whose worker was killed is unfinished and unleased, and the next
  poll of any worker (or the next start) picks it up;
- no job runs twice at once: a lease has one holder, and the outcome is written only
  while the lease is still held;
- retries are bounded: each start counts an attempt (committed before the work), and a
  job started ``max_attempts`` times without an outcome fails as ``gave_up``.

No start-up requeue and no heartbeat: a lease's liveness is the worker's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from readloom.errors import ReadloomError
from readloom.service import Readloom, outbox
from readloom.storage.db import Database
from readloom.storage.leases import Leases
from readloom.storage.models import QuestionJob, utcnow

log = logging.getLogger("readloom.service.jobs")

Work = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]]
"""(request, tenant) -> result body; a ReadloomError is a final failure, any other
exception a transient one (retried while attempts remain)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def question_work(service: Readloom) -> Work:
    async def run(request: dict[str, Any], tenant: str) -> dict[str, Any]:
        # kept redacted: real names come back only when an allowed caller reads the job
        res = await service.generate_questions(
            **request, tenant=tenant, role="teacher", reidentify=False
        )
        return {"session_id": res.session_id, "redacted": res.model_dump(mode="json")}

    return run


class QuestionJobRunner:
    def __init__(
        self,
        db: Database,
        leases: Leases,
        work: Work,
        *,
        concurrency: int = 2,
        poll_s: float = 1.0,
        max_attempts: int = 3,
    ):
        self.db, self.leases, self.work = db, leases, work
        self.concurrency, self.poll_s, self.max_attempts = concurrency, poll_s, max_attempts
        self.worker = worker_name()
        self._running: dict[str, asyncio.Task[None]] = {}  # job id -> its task
        self._wake = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self.on_event: Any = None  # called after an event is queued (outbox nudge)

    def submit(self, job_id: str) -> None:
        """A job was committed: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._poller = asyncio.create_task(self._poll_forever(), name="readloom-job-poller")

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the database may be back next poll
                log.warning("job_poll_error type=%s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()

    async def poll_once(self) -> int:
        """Lease and start unfinished jobs, oldest first, up to the free slots."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        async with self.db.reader() as s:
            ids = (
                await s.execute(
                    select(QuestionJob.id)
                    .where(QuestionJob.status.in_(("queued", "running")))
                    .order_by(QuestionJob.created_at)
                    .limit(free + len(self._running) + 16)
                )
            ).scalars()
            ids = [i for i in ids if i not in self._running]
        started = 0
        for job_id in ids:
            if started >= free:
                break
            if not await self.leases.try_acquire(_key(job_id)):
                continue  # another worker has it
            task = asyncio.create_task(self._run(job_id), name=f"question-job-{job_id}")
            self._running[job_id] = task
            task.add_done_callback(lambda _t, j=job_id: self._running.pop(j, None))
            started += 1
        return started

    async def stop(self) -> None:
        """Stop polling and cut the jobs in progress short: each goes back to ``queued``
        with its attempt refunded (it did not fail), for another worker or the next start.
        A job cut short is never reported finished."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        cut = dict(self._running)
        for t in cut.values():
            t.cancel()
        await asyncio.gather(*cut.values(), return_exceptions=True)
        if cut:
            log.info("question_jobs_requeued count=%d", len(cut))

    async def _run(self, job_id: str) -> None:
        key = _key(job_id)
        try:
            try:
                started = await self._start(job_id)
                if started is None:
                    return
                request, tenant = started
                outcome = await self._attempt(job_id, request, tenant)
                if outcome is not None:
                    await self._finish(job_id, key, tenant, *outcome)
            except asyncio.CancelledError:
                # Cut short anywhere (even while ``running`` was being committed, or the
                # outcome was): back to ``queued`` if it is still ``running``.
                await asyncio.shield(self._requeue(job_id, refund=True))
                raise
        finally:
            await asyncio.shield(self.leases.release(key))

    async def _start(self, job_id: str) -> tuple[dict[str, Any], str] | None:
        """Count the attempt (committed before any work); None if there is nothing to do."""
        async with self.db.writer() as s:
            job = await s.get(QuestionJob, job_id)
            if job is None or job.status not in ("queued", "running"):
                return None  # finished (or deleted) since the poll
            if job.attempts >= self.max_attempts:
                job.status, job.error, job.updated_at = "failed", "gave_up", utcnow()
                job.request = {"count": job.request.get("count")}
                await self._completed_event(s, job)
                log.warning("question_job_gave_up job=%s attempts=%d", job_id, job.attempts)
                return None
            job.attempts += 1
            job.status, job.claimed_by, job.updated_at = "running", self.worker, utcnow()
            return dict(job.request), job.tenant_id

    async def _attempt(
        self, job_id: str, request: dict[str, Any], tenant: str
    ) -> tuple[str, dict[str, Any] | None, str | None] | None:
        """(status, result, error), or None when a transient error leaves it queued."""
        try:
            return "succeeded", await self.work(request, tenant), None
        except ReadloomError as exc:
            return "failed", None, exc.code
        except Exception as exc:  # noqa: BLE001 - a job fails, the server does not
            log.warning("question_job_error job=%s type=%s", job_id, type(exc).__name__)
            if await self._requeue(job_id, refund=False):
                return None
            return "failed", None, "internal_error"

    async def _requeue(self, job_id: str, *, refund: bool) -> bool:
        """Back to ``queued``; False if its attempts are used up (and not refunded)."""
        async with self.db.writer() as s:
            job = await s.get(QuestionJob, job_id)
            if job is None or job.status != "running":
                return False
            if refund:
                job.attempts = max(0, job.attempts - 1)
            elif job.attempts >= self.max_attempts:
                return False
            job.status, job.updated_at = "queued", utcnow()
            return True

    async def _finish(
        self, job_id: str, key: str, tenant: str, status: str, result: Any, error: str | None
    ) -> None:
        async with self.db.writer() as s:
            if not await self.leases.holds(key):  # lease lost (connection cut): not ours
                log.warning("question_job_lease_lost job=%s", job_id)
                return
            job = await s.get(QuestionJob, job_id)
            if job is None or job.status != "running":  # deleted meanwhile
                return
            job.status, job.result, job.error = status, result, error
            job.request = {"count": job.request.get("count")}  # forget posted text
            job.updated_at = utcnow()
            await self._completed_event(s, job)
        if self.on_event:
            self.on_event()
        log.info("question_job job=%s status=%s", job_id, status)

    @staticmethod
    async def _completed_event(s: Any, job: QuestionJob) -> None:
        await outbox.enqueue(
            s, tenant=job.tenant_id, event_type="question_job.completed",
            data={"job_id": job.id, "status": job.status, "requested_by": job.requested_by},
        )  # fmt: skip


def _key(job_id: str) -> str:
    return f"question-job:{job_id}"


def start_scheduled_jobs(db: Database, service: Readloom) -> list[asyncio.Task[None]]:
    """Scheduled work: the nightly mastery refit (``READLOOM_REFIT_SCHEDULE``) and the
    drift gauges (``READLOOM_MONITOR_INTERVAL_S``); each may be switched off."""
    from readloom.mlops.schedule import parse_schedule, run_monitor, run_schedule

    settings = service.settings
    store = service.services.mastery
    tasks = []
    if parse_schedule(settings.refit_schedule) is not None:
        tasks.append(asyncio.create_task(run_schedule(settings, db, store), name="readloom-refit"))
    if settings.monitor_interval_s > 0:
        tasks.append(asyncio.create_task(run_monitor(settings, store), name="readloom-monitor"))
    return tasks
