"""Passages: ingest (JSON, JSON lines or plain text), list, read.

Shipped and admin-published passages are visible to every tenant; a passage a tenant
ingests is visible to that tenant only, and its id cannot be taken over by another tenant.
Ownership is claimed before the write and the passage is invisible until it is complete.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, update

from readloom.api import idempotency
from readloom.api.auth import Principal, ensure_tenant
from readloom.api.deps import RuntimeDep, ScopeDep, ServiceDep, allow
from readloom.api.idempotency import IdempotencyKey
from readloom.api.problems import Conflict, Forbidden, UnsupportedMediaType
from readloom.api.schemas import (
    Identifier,
    IngestOut,
    PassageBody,
    PassageList,
    PassageOut,
    PassagesIn,
    PassageSummary,
)
from readloom.errors import InputError, NotFound
from readloom.guardrails.policy import can_reidentify
from readloom.mlops.data_quality import RowChecker
from readloom.retrieval.models import Genre, Passage
from readloom.service import library
from readloom.storage.models import TenantPassage

router = APIRouter(prefix="/v1/passages", tags=["passages"])

Curator = Annotated[Principal, allow("teacher", "partner", "admin")]
_JSONL = ("application/x-ndjson", "application/jsonl", "application/json-lines")
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PassagesIn"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string", "minLength": 1}},
        },
    }
}  # fmt: skip


def _errors(exc: ValidationError, where: str) -> InputError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return InputError(f"{where}{'.' + loc if loc else ''}: {first.get('msg', 'invalid')}")


def _parse(
    content_type: str, raw: bytes, *, passage_id: str | None, title: str | None,
    grade: int | None, genre: str, max_bad_share: float, rejected: dict[str, str],
) -> list[PassageBody]:  # fmt: skip
    ctype = content_type.split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("body: must be UTF-8 text") from exc
    if ctype == "application/json":
        try:
            return PassagesIn.model_validate_json(raw).passages
        except ValidationError as exc:
            raise _errors(exc, "body") from exc
    if ctype in _JSONL:  # row by row: a few bad lines are reported, too many fail it all
        out = []
        checker = RowChecker("body", "passage", max_bad_share=max_bad_share,
                             location="line {line}")  # fmt: skip
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(PassageBody.model_validate_json(line))
            except ValidationError as exc:
                checker.bad(n, _errors(exc, "").message.lstrip(".: ") or "invalid")
                continue
            checker.good()
        if checker.report.rows == 0:
            raise InputError("body: no passages in the JSON lines")
        report = checker.finish()
        rejected.update({report.where(b.line): b.reason for b in report.bad_rows})
        return out
    if ctype == "text/plain":
        if not (passage_id and title and grade):
            raise InputError("query: passage_id, title and grade are required for text/plain")
        try:
            return [
                PassageBody(
                    passage_id=passage_id, title=title, grade=grade, text=text,
                    genre=TypeAdapter(Genre).validate_python(genre),
                )
            ]  # fmt: skip
        except ValidationError as exc:
            raise _errors(exc, "body") from exc
    raise UnsupportedMediaType(
        "send application/json, application/x-ndjson or text/plain",
    )


@router.post("", status_code=201, response_model=IngestOut, openapi_extra=_BODY_DOC)
async def ingest_passages(
    request: Request,
    principal: Curator,
    rt: RuntimeDep,
    service: ServiceDep,
    idempotency_key: IdempotencyKey = None,
    passage_id: Annotated[Identifier | None, Query()] = None,
    title: Annotated[str | None, Query(max_length=300)] = None,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    genre: Annotated[str, Query(max_length=20)] = "other",
    publish: Annotated[bool, Query(description="admin only: share with every tenant")] = False,
) -> Any:
    """Add passages to the tenant's library (embedded and indexed for retrieval); an admin
    may publish them to every tenant (``publish=true``), which also lets their
    ``characters`` be exempt from redaction."""
    raw = await request.body()
    rejected: dict[str, str] = {}
    bodies = _parse(
        request.headers.get("content-type", "application/json"), raw,
        passage_id=passage_id, title=title, grade=grade, genre=genre,
        max_bad_share=rt.settings.import_max_bad_share, rejected=rejected,
    )  # fmt: skip
    ids = [b.passage_id for b in bodies]
    if len(set(ids)) != len(ids):
        raise InputError("body: passage ids must be unique within one upload")
    store = service.services.store

    if publish and principal.role != "admin":
        raise Forbidden("only an admin may publish passages to every tenant")
    visibility = "shared" if publish else "tenant"
    passages = [Passage(**b.model_dump()) for b in bodies]

    async def work(claim: idempotency.Claim | None) -> tuple[int, dict[str, Any]]:
        # Claim the ids first, in their own commit: a crash after this leaves rows that are
        # invisible (not ready) and still ours, so the retry goes through.
        shared = await claim_passages(
            rt, store, principal, ids, visibility=visibility, corpus=rt.settings.corpus_path
        )
        # a tenant's text is stored with placeholders; published text was reviewed as is
        await anyio.to_thread.run_sync(lambda: _ingest(store, passages, shared))
        out = IngestOut(passage_ids=ids, rejected_rows=rejected).model_dump(
            mode="json", exclude_defaults=True
        )  # rejected_rows only when some were
        async with rt.db.writer() as s:
            await s.execute(
                update(TenantPassage)
                .where(
                    TenantPassage.passage_id.in_(ids), TenantPassage.tenant_id == principal.tenant
                )
                .values(ready=True)
            )
            for p in passages:  # what an admin reviewed (every worker reads this), or none
                await s.execute(
                    update(TenantPassage)
                    .where(TenantPassage.passage_id == p.passage_id)
                    .values(reviewed_digest=library.text_digest(p.text) if publish else None)
                )
            await idempotency.complete(s, claim, 201, out)
        if publish:  # reviewed by an admin: its characters' names may be exempt
            for p in passages:
                service.services.guards.trust_passage(p.passage_id, p.text)
        return 201, out

    return await idempotency.run_once(rt, principal, request, idempotency_key, work)


def _ingest(store: Any, passages: list[Passage], shared: set[str]) -> None:
    own = [p for p in passages if p.passage_id not in shared]
    if own:
        store.ingest_passages(own, seal=True)
    published = [p for p in passages if p.passage_id in shared]
    if published:
        store.ingest_passages(published)


async def claim_passages(
    rt: Any, store: Any, principal: Principal, ids: list[str], *, visibility: str, corpus: Any
) -> set[str]:
    """Write this tenant's ownership rows (not ready) before anything reaches the store.
    An id owned by another tenant, shipped, or already in the store with no owner is taken.
    Returns the ids that are shared (published) once claimed."""
    async with rt.db.writer() as s:
        await ensure_tenant(s, principal.tenant)
        owners = {
            r.passage_id: r
            for r in (
                await s.execute(select(TenantPassage).where(TenantPassage.passage_id.in_(ids)))
            ).scalars()
        }
        for pid in ids:
            row = owners.get(pid)
            if row is not None and row.tenant_id == principal.tenant:
                continue
            taken = (
                row is not None
                or library.is_shipped(corpus, pid)
                or (await anyio.to_thread.run_sync(_exists, store, pid))
            )
            if taken:
                raise Conflict(f"passage id {pid!r} is taken: choose another id")
        for pid in ids:
            row = owners.get(pid)
            if row is None:
                s.add(
                    TenantPassage(
                        passage_id=pid, tenant_id=principal.tenant, visibility=visibility,
                        created_by=principal.subject, ready=False,
                    )
                )  # fmt: skip
            elif visibility == "shared":
                row.visibility = "shared"
        return {
            pid for pid in ids
            if visibility == "shared" or (pid in owners and owners[pid].visibility == "shared")
        }  # fmt: skip


def _exists(store: Any, passage_id: str) -> bool:
    try:
        store.get(passage_id)
    except NotFound:
        return False
    return True


@router.get("", response_model=PassageList)
async def list_passages(
    scope: ScopeDep,
    service: ServiceDep,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> PassageList:
    opened = can_reidentify(scope.principal.role)  # real titles only for who reads names
    passages = await anyio.to_thread.run_sync(lambda: service.services.store.list(opened=opened))
    hidden = await scope.hidden_passages([p.passage_id for p in passages])
    items = [
        PassageSummary(
            passage_id=p.passage_id, title=p.title, grade=p.grade, genre=p.genre, source=p.source
        )
        for p in passages
        if p.passage_id not in hidden and (grade is None or p.grade == grade)
    ]
    return PassageList(items=items[:limit])


@router.get("/{passage_id}", response_model=PassageOut)
async def get_passage(passage_id: str, scope: ScopeDep, service: ServiceDep) -> PassageOut:
    if not await scope.passage_visible(passage_id):
        raise NotFound(f"no passage {passage_id!r}")
    # a tenant's text is stored with placeholders: real names only for a reader who may
    # see them (guardrails.policy); partners and admins read the placeholders
    opened = can_reidentify(scope.principal.role)
    p = await anyio.to_thread.run_sync(
        lambda: service.services.store.get(passage_id, opened=opened)
    )
    return PassageOut(**json.loads(p.model_dump_json()))
