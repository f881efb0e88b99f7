"""Interventions and safety alerts: a teacher's queue, and acknowledging an alert."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from readloom.api.auth import Principal
from readloom.api.deps import RuntimeDep, ScopeDep, ServiceDep, allow
from readloom.api.schemas import AlertList, AlertOut
from readloom.service import analytics, learner

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

Staff = Annotated[Principal, allow("teacher", "partner", "admin")]


@router.get("", response_model=AlertList)
async def list_alerts(
    principal: Staff,
    scope: ScopeDep,
    service: ServiceDep,
    status: Annotated[
        Literal["open", "review", "acknowledged", "all"],
        Query(description="open: the teacher's queue; review: low-confidence alerts"),
    ] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertList:
    """Alerts about the students the caller may see (a teacher: their classes')."""
    items = await learner.alerts(
        service, scope, status=None if status == "all" else status, limit=limit
    )
    return AlertList(items=items)


@router.post("/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge_alert(
    alert_id: str, principal: Staff, scope: ScopeDep, rt: RuntimeDep, service: ServiceDep
) -> AlertOut:
    """Mark an alert as seen by the caller (idempotent: acknowledging twice is a no-op)."""
    out = await learner.acknowledge(rt, service, scope, alert_id)
    if principal.role in ("teacher", "admin"):  # time to insight: a teacher has seen it
        await analytics.analytics_for(rt.db, service).mark_seen(
            principal.tenant, [out.id], "acknowledged", scope=scope
        )
    return out
