"""Teacher question generation: answered at once for a few, a job to poll for many."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Request
from sqlalchemy import update

from readloom.api import idempotency
from readloom.api.auth import Principal, ensure_tenant
from readloom.api.deps import RuntimeDep, ScopeDep, ServiceDep, allow
from readloom.api.idempotency import IdempotencyKey
from readloom.api.routes.passages import claim_passages
from readloom.api.schemas import QuestionJobOut, QuestionsIn, QuestionsOut
from readloom.errors import InputError, NotFound
from readloom.service.limits import admit_request
from readloom.storage.models import QuestionJob, TenantPassage, new_id

router = APIRouter(prefix="/v1", tags=["questions"])

Teacher = Annotated[Principal, allow("teacher", "partner", "admin")]


def _job_out(job: QuestionJob, result: dict[str, Any] | None = None) -> QuestionJobOut:
    return QuestionJobOut(
        id=job.id, status=job.status, count=int((job.request or {}).get("count") or 0),  # type: ignore[arg-type]
        created_at=job.created_at, updated_at=job.updated_at,
        result=QuestionsOut.model_validate(result) if result else None, error=job.error,
    )  # fmt: skip


def _presented(service: Any, stored: dict[str, Any] | None, role: str) -> dict[str, Any] | None:
    """A job's result is stored redacted (``{"session_id", "redacted"}``); the caller reads
    it as its role may. A result stored by an earlier release is shown as it was."""
    if not stored or "redacted" not in stored:
        return stored
    from readloom.service.core import QuestionsResult

    kept = QuestionsResult.model_validate(stored["redacted"])
    kept.session_id = stored.get("session_id")
    return service.present_questions(kept, role=role).model_dump(mode="json")


@router.post(
    "/questions",
    response_model=QuestionsOut,
    responses={202: {"model": QuestionJobOut, "description": "A job was created; poll it"}},
)
async def generate_questions(
    body: QuestionsIn,
    request: Request,
    principal: Teacher,
    scope: ScopeDep,
    rt: RuntimeDep,
    service: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Comprehension questions for a passage id or posted text. Up to 10 are answered
    at once; more create a job (202, ``Location`` of the job to poll)."""
    if (body.passage_id is None) == (body.text is None):
        raise InputError("body: give exactly one of passage_id or text")
    if body.passage_id is not None and not await scope.passage_visible(body.passage_id):
        raise NotFound(f"no passage {body.passage_id!r}")
    request_args = body.model_dump(exclude_none=True)

    async def work(claim: idempotency.Claim | None) -> tuple[int, dict[str, Any]]:
        limiter = rt.limiter.limiter
        await limiter.off_loop(
            admit_request, limiter, rt.settings, tenant=principal.tenant
        )  # one batch
        if body.text is not None:
            # a teacher's pasted text: owned by this tenant, private to the teacher (and
            # their classes); claimed before it is written, invisible until complete
            passage = service.text_passage(
                body.text, title=body.title, grade=body.grade,
                owner=f"{principal.tenant}\0{principal.subject or principal.role}",
            )  # fmt: skip
            store = service.services.store
            await claim_passages(
                rt, store, principal, [passage.passage_id], visibility="private",
                corpus=rt.settings.corpus_path,
            )  # fmt: skip
            await anyio.to_thread.run_sync(lambda: store.ingest_passages([passage], seal=True))
            async with rt.db.writer() as s:
                await s.execute(
                    update(TenantPassage)
                    .where(TenantPassage.passage_id == passage.passage_id)
                    .values(ready=True)
                )
            request_args.pop("text", None)
            request_args.pop("title", None)
            request_args["passage_id"] = passage.passage_id
        if body.count <= rt.config.sync_question_limit:
            res = await service.generate_questions(
                **request_args, tenant=principal.tenant, role=principal.role
            )
            out = QuestionsOut.model_validate(res.model_dump(mode="json")).model_dump(mode="json")
            async with rt.db.writer() as s:
                await ensure_tenant(s, principal.tenant)
                await idempotency.complete(s, claim, 200, out)
            return 200, out
        job = QuestionJob(
            id=new_id("job"), tenant_id=principal.tenant, requested_by=principal.subject,
            request=request_args, status="queued",
        )  # fmt: skip
        async with rt.db.writer() as s:
            await ensure_tenant(s, principal.tenant)
            s.add(job)
            await s.flush()
            out = _job_out(job).model_dump(mode="json")
            await idempotency.complete(s, claim, 202, out)
        assert rt.jobs is not None
        rt.jobs.submit(job.id)
        return 202, out

    resp = await idempotency.run_once(rt, principal, request, idempotency_key, work)
    if resp.status_code == 202:
        import json

        resp.headers["Location"] = f"/v1/question-jobs/{json.loads(resp.body)['id']}"
    return resp


@router.get("/question-jobs/{job_id}", response_model=QuestionJobOut)
async def get_question_job(
    job_id: str, principal: Teacher, rt: RuntimeDep, service: ServiceDep
) -> QuestionJobOut:
    async with rt.db.reader() as s:
        job = await s.get(QuestionJob, job_id)
    if job is None or job.tenant_id != principal.tenant:
        raise NotFound(f"no question job {job_id!r}")
    if principal.role == "teacher" and job.requested_by != principal.subject:
        raise NotFound(f"no question job {job_id!r}")
    result = await anyio.to_thread.run_sync(lambda: _presented(service, job.result, principal.role))
    return _job_out(job, result)
