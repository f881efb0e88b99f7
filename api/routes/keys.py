"""API keys and the tenant itself: admins mint any key in their tenant, partners mint
student and teacher keys for their users; a key is shown once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from sqlalchemy import select

from readloom.api.auth import Principal, create_key, revoke_key
from readloom.api.deps import RuntimeDep, allow
from readloom.api.problems import Forbidden
from readloom.api.schemas import KeyCreatedOut, KeyIn, KeyList, KeyOut, TenantIn, TenantOut
from readloom.errors import InputError, NotFound
from readloom.storage.models import ApiKey, Tenant, utcnow

router = APIRouter(prefix="/v1", tags=["keys"])

Issuer = Annotated[Principal, allow("partner", "admin")]
Admin = Annotated[Principal, allow("admin")]


def _out(k: ApiKey) -> KeyOut:
    return KeyOut(
        id=k.id, prefix=k.prefix, role=k.role, subject=k.subject,  # type: ignore[arg-type]
        created_at=k.created_at, revoked=k.revoked_at is not None,
    )  # fmt: skip


@router.post("/keys", status_code=201, response_model=KeyCreatedOut)
async def create_api_key(body: KeyIn, principal: Issuer, rt: RuntimeDep) -> KeyCreatedOut:
    """Mint a key (not idempotent by design: a replay would have to show the secret again)."""
    if principal.role == "partner" and body.role not in ("student", "teacher"):
        raise Forbidden("a partner key may only mint student and teacher keys")
    try:
        new = await create_key(rt.db, tenant=principal.tenant, role=body.role, subject=body.subject)
    except ValueError as exc:
        raise InputError(f"body: {exc}") from exc
    return KeyCreatedOut(
        id=new.id, prefix=new.prefix, role=new.role, subject=new.subject, created_at=utcnow(),
        revoked=False, key=new.key,
    )  # fmt: skip


@router.get("/keys", response_model=KeyList)
async def list_api_keys(principal: Issuer, rt: RuntimeDep) -> KeyList:
    stmt = select(ApiKey).where(ApiKey.tenant_id == principal.tenant)
    if principal.role == "partner":
        stmt = stmt.where(ApiKey.role.in_(("student", "teacher")))
    async with rt.db.reader() as s:
        rows = (await s.execute(stmt.order_by(ApiKey.created_at))).scalars().all()
    return KeyList(items=[_out(k) for k in rows])


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, principal: Issuer, rt: RuntimeDep) -> Response:
    async with rt.db.reader() as s:
        k = await s.get(ApiKey, key_id)
    if k is None or k.tenant_id != principal.tenant:
        raise NotFound(f"no key {key_id!r}")
    if principal.role == "partner" and k.role not in ("student", "teacher"):
        raise NotFound(f"no key {key_id!r}")
    await revoke_key(rt.db, tenant=principal.tenant, key_id=key_id)
    rt.keys.forget(key_id)
    return Response(status_code=204)


@router.get("/tenant", response_model=TenantOut, tags=["tenant"])
async def get_tenant(principal: Issuer, rt: RuntimeDep) -> TenantOut:
    async with rt.db.reader() as s:
        t = await s.get(Tenant, principal.tenant)
    if t is None:
        raise NotFound("no such tenant")
    return TenantOut(id=t.id, home_page=t.home_page, created_at=t.created_at)


@router.put("/tenant", response_model=TenantOut, tags=["tenant"])
async def update_tenant(body: TenantIn, principal: Admin, rt: RuntimeDep) -> TenantOut:
    """Set the tenant's xAPI homePage (the partner LMS's URL)."""
    async with rt.db.writer() as s:
        t = await s.get(Tenant, principal.tenant)
        if t is None:
            raise NotFound("no such tenant")
        t.home_page = str(body.home_page)
        return TenantOut(id=t.id, home_page=t.home_page, created_at=t.created_at)
