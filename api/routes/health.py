"""Liveness (the process answers) and readiness (database up, corpus and models loaded)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from readloom.api.deps import RuntimeDep
from readloom.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def readyz(rt: RuntimeDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await rt.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
        checks["database"] = f"error:{type(exc).__name__}"
    ready = rt.ready and rt.service is not None
    checks["service"] = (
        "ok" if ready else (f"error:{rt.load_error}" if rt.load_error else "starting")
    )
    if ready:
        assert rt.service is not None
        store = rt.service.services.store
        try:
            n = await anyio.to_thread.run_sync(store.count)
            checks["corpus"] = "ok" if n else "empty"
        except Exception as exc:  # noqa: BLE001
            checks["corpus"] = f"error:{type(exc).__name__}"
    if rt.draining:  # shutting down: a load balancer should send nothing new here
        checks["server"] = "draining"
    ok = all(v == "ok" for v in checks.values())
    body = HealthOut(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
