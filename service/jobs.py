"""Question-generation jobs for large batches: persisted, run in the background, resumed
after a restart (a job left ``running`` by a dead server is queued again)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select, update

from readloom.errors import ReadloomError
from readloom.service import Readloom, outbox
from readloom.storage.db import Database
from readloom.storage.models import QuestionJob, utcnow

log = logging.getLogger("readloom.service.jobs")


class QuestionJobRunner:
    def __init__(self, db: Database, service: Readloom, *, concurrency: int = 2):
        self.db = db
        self.service = service
        self._sem = asyncio.Semaphore(concurrency)
        self._tasks: dict[asyncio.Task[None], str] = {}  # running task -> job id
        self.on_event: Any = None  # called after an event is queued (outbox nudge)

    def submit(self, job_id: str) -> None:
        task = asyncio.create_task(self._run(job_id), name=f"question-job-{job_id}")
        self._tasks[task] = job_id
        task.add_done_callback(lambda t: self._tasks.pop(t, None))

    async def resume(self) -> int:
        async with self.db.writer() as s:
            ids = (
                (
                    await s.execute(
                        select(QuestionJob.id).where(QuestionJob.status.in_(("queued", "running")))
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                await s.execute(
                    update(QuestionJob).where(QuestionJob.id.in_(ids)).values(status="queued")
                )
        for job_id in ids:
            self.submit(job_id)
        return len(ids)

    async def stop(self) -> None:
        """Cancel the jobs in progress and put them back in the queue, for the next start
        (or another server) to resume: an accepted job is never lost, and a job cut short
        is never reported finished."""
        cut = dict(self._tasks)
        for t in cut:
            t.cancel()
        if not cut:
            return
        await asyncio.gather(*cut, return_exceptions=True)
        async with self.db.writer() as s:
            await s.execute(
                update(QuestionJob)
                .where(QuestionJob.id.in_(list(cut.values())), QuestionJob.status == "running")
                .values(status="queued", updated_at=utcnow())
            )
        log.info("question_jobs_requeued count=%d", len(cut))

    async def _run(self, job_id: str) -> None:
        async with self._sem:
            async with self.db.writer() as s:
                job = await s.get(QuestionJob, job_id)
                if job is None or job.status not in ("queued", "running"):
                    return
                job.status, job.updated_at = "running", utcnow()
                request, tenant, requested_by = dict(job.request), job.tenant_id, job.requested_by
            status, result, error = "succeeded", None, None
            try:
                # kept redacted: real names come back only when an allowed caller reads it
                res = await self.service.generate_questions(
                    **request, tenant=tenant, role="teacher", reidentify=False
                )
                result = {"session_id": res.session_id, "redacted": res.model_dump(mode="json")}
            except ReadloomError as exc:
                status, error = "failed", exc.code
            except Exception as exc:  # noqa: BLE001 - a job fails, the server does not
                log.warning("question_job_error job=%s type=%s", job_id, type(exc).__name__)
                status, error = "failed", "internal_error"
            async with self.db.writer() as s:
                job = await s.get(QuestionJob, job_id)
                if job is None:  # deleted meanwhile
                    return
                job.status, job.result, job.error = status, result, error
                job.request = {"count": request.get("count")}  # forget posted text
                job.updated_at = utcnow()
                await outbox.enqueue(
                    s, tenant=tenant, event_type="question_job.completed",
                    data={"job_id": job_id, "status": status, "requested_by": requested_by},
                )  # fmt: skip
            if self.on_event:
                self.on_event()
            log.info("question_job job=%s status=%s", job_id, status)


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
