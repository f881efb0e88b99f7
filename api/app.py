"""``create_app(settings)``: the FastAPI application partners and schools talk to.

Start-up migrates the database, opens the checkpointer on it, and loads the tutoring
service (Presidio, spaCy, embeddings) in a worker thread: ``/healthz`` answers at once,
``/readyz`` once everything is loaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from readloom import __version__
from readloom.api import problems
from readloom.api.auth import KeyCache, RateLimiter
from readloom.api.config import ApiConfig
from readloom.api.limits import BodySizeLimit, NoNulBytes
from readloom.api.routes import (
    alerts,
    classes,
    experiments,
    health,
    insights,
    keys,
    passages,
    questions,
    sessions,
    students,
    webhooks,
    xapi,
)
from readloom.api.runtime import Runtime
from readloom.api.schemas import PassagesIn, Problem
from readloom.api.shutdown import bounded, cancel_and_wait, cleanup_deadline
from readloom.api.turns_first import TurnsFirst
from readloom.api.web import register_web
from readloom.observability import instrument_app
from readloom.service.outbox import OutboxWorker, url_policy
from readloom.settings import Settings, configure_offline_environment
from readloom.storage.checkpoints import open_checkpointer
from readloom.storage.db import Database, migrate
from readloom.storage.leases import open_leases

log = logging.getLogger("readloom.api")

ROUTERS = (
    health, keys, classes, sessions, questions, passages, students, alerts, webhooks, xapi,
    insights, experiments,
)  # fmt: skip


def _operation_id(route: APIRoute) -> str:
    return route.name  # function names are unique across routers: stable operation ids


async def _load_service(rt: Runtime, stack: AsyncExitStack, services: Any) -> None:
    from readloom.service import Readloom
    from readloom.service.jobs import QuestionJobRunner, question_work, start_scheduled_jobs

    try:
        rt.checkpointer = await stack.enter_async_context(open_checkpointer(rt.settings))
        service = Readloom(rt.settings, services=services, checkpointer=rt.checkpointer)
        await anyio.to_thread.run_sync(lambda: service.services)  # loads models
        await stack.enter_async_context(service)
        await _trust_published(rt, service)
        rt.service = service
        rt.jobs = QuestionJobRunner(
            rt.db, rt.leases, question_work(service), poll_s=rt.config.job_poll_s
        )
        if rt.outbox:
            rt.jobs.on_event = rt.outbox.nudge
        rt.jobs.start()  # picks up whatever a dead worker left unfinished, too
        for scheduled in start_scheduled_jobs(rt.db, service):
            stack.callback(scheduled.cancel)
        rt.ready = True
        log.info("service_ready instance=%s", rt.instance_id)
    except Exception as exc:
        log.error("service_load_failed type=%s", type(exc).__name__)
        rt.load_error = type(exc).__name__
        raise


async def _trust_published(rt: Runtime, service: Any) -> None:
    """Passages an admin published before their reviewed text was recorded (an earlier
    release): record the digest of the text they have, once. Every worker then reads
    ``reviewed_digest`` from the database (``guardrails.suite``)."""
    from sqlalchemy import select, update

    from readloom.errors import NotFound
    from readloom.service import library
    from readloom.storage.models import TenantPassage

    async with rt.db.reader() as s:
        ids = (
            await s.execute(
                select(TenantPassage.passage_id).where(
                    TenantPassage.visibility == "shared",
                    TenantPassage.ready.is_(True),
                    TenantPassage.reviewed_digest.is_(None),
                )
            )
        ).scalars()
        ids = list(ids)
    for pid in ids:
        try:
            p = await anyio.to_thread.run_sync(service.services.store.get, pid)
        except NotFound:
            continue
        async with rt.db.writer() as s:
            await s.execute(
                update(TenantPassage)
                .where(TenantPassage.passage_id == pid, TenantPassage.reviewed_digest.is_(None))
                .values(reviewed_digest=library.text_digest(p.text))
            )


async def _shutdown(rt: Runtime, stack: AsyncExitStack, *, close_services: bool) -> None:
    """In order, each step bounded (``api/shutdown.py``): background work first, so that
    nothing new starts (jobs go back to the queue, leased webhook deliveries are freed),
    then the stores, the leases and, last, the database pools. Requests still open
    were given ``shutdown_grace_s`` by uvicorn before this runs."""
    rt.draining = True
    deadline = cleanup_deadline()
    await bounded("loader", lambda: cancel_and_wait([rt.loader]), deadline)
    if rt.jobs is not None:
        await bounded("jobs", rt.jobs.stop, deadline)
    if rt.outbox is not None:
        await bounded("outbox", rt.outbox.stop, deadline)
    await bounded("service", stack.aclose, deadline)
    if close_services and rt.service is not None:
        await bounded("stores", lambda: _close_stores(rt.service.services), deadline)  # type: ignore[union-attr]
    await bounded("leases", rt.leases.close, deadline)
    await bounded("database", rt.db.dispose, deadline)
    log.info("shutdown_complete instance=%s", rt.instance_id)


async def _close_stores(services: Any) -> None:
    """The provider clients, then the SQLite stores the services opened (their locks are
    threading locks: closed in a worker thread, never blocking the loop)."""
    await services.gate.aclose()
    closers = [services.mastery.close, services.guards.audit.close, services.guards.vault.close]
    for close in closers:
        await anyio.to_thread.run_sync(close)


def create_app(
    settings: Settings, *, config: ApiConfig | None = None, services: Any = None
) -> FastAPI:
    """The app; ``services`` (already-loaded ``agents.services.Services``) may be shared
    between apps in one process, e.g. by tests that start several servers."""
    configure_offline_environment()
    config = config or settings.api

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(migrate, settings)
        db = Database(settings)
        rt = Runtime(
            settings=settings,
            config=config,
            db=db,
            keys=KeyCache(db, ttl_s=config.key_cache_ttl_s),
            limiter=RateLimiter(
                config.rate_limit_per_minute or settings.rate_limit_per_minute, settings=settings
            ),
            leases=open_leases(settings),
        )
        rt.outbox = OutboxWorker(db, config, rt.leases, url_policy(settings))
        app.state.runtime = rt
        stack = AsyncExitStack()  # what the loader opens: checkpointer, service
        await rt.outbox.start()
        rt.loader = asyncio.create_task(
            _load_service(rt, stack, services), name="readloom-service-loader"
        )
        try:
            yield
        finally:
            await _shutdown(rt, stack, close_services=services is None)

    app = FastAPI(
        title="readloom",
        version=__version__,
        summary="Reading-comprehension tutoring and question generation for K-12 partners",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        responses=problems.PROBLEM_RESPONSES,
    )
    problems.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    app.add_middleware(
        BodySizeLimit,
        default=config.max_body_bytes,
        overrides={"/v1/passages": config.max_ingest_bytes},
    )
    app.add_middleware(NoNulBytes)
    app.add_middleware(TurnsFirst)  # outermost: an upload waits from a turn's first byte

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (Problem, PassagesIn):  # referenced by hand-written bodies
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    register_web(app, settings)
    instrument_app(app, settings)  # student/teacher pages, static files, LTI 1.3 (api/web.py)
    return app
