"""Tenants appear on first use: the first key, class or event of a district creates it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from readloom.storage.models import Tenant


def default_home_page(tenant: str) -> str:
    return f"https://readloom.invalid/tenants/{tenant}"


async def ensure_tenant(session: AsyncSession, tenant: str) -> None:
    if await session.get(Tenant, tenant) is None:
        session.add(Tenant(id=tenant, home_page=default_home_page(tenant)))
        await session.flush()
