"""The student and teacher pages, their static files, the LTI routes and the local demo.

``register_web(app, settings)`` mounts everything on an app made by ``create_app``; the
pages are plain HTML/CSS/JS (no build step) that talk only to the public ``/v1`` API
with a short-lived key handed to them by a launch:

- from an LMS: ``/lti/login`` → platform → ``/lti/launch`` (see ``api/lti``);
- locally, with ``enable_demo(app)`` (``readloom serve --demo``): the home page's
  "Open as student / teacher" buttons, answered only to a browser on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from readloom.api.family_page import family_page
from readloom.api.lti.context import WebConfig, WebState, get_web, render_page
from readloom.api.lti.pagekeys import expires_iso, issue_page_key, sweeper
from readloom.api.lti.routes import form_fields
from readloom.api.shutdown import Deadline, bounded, cancel_and_wait
from readloom.settings import Settings

log = logging.getLogger("readloom.web")
STATIC = Path(__file__).resolve().parent / "static"
WebDep = Annotated[WebState, Depends(get_web)]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

DEMO_CLASS = "demo-class"
DEMO_TEACHER = "demo-teacher"
DEMO_STUDENT = "demo-student"
# Classmates with some practice behind them, so the class view has something to show.
DEMO_CLASSMATES: dict[str, list[tuple[str, str]]] = {
    "demo-s02": [("ask_answer_questions", "1101111"), ("story_elements", "0111"), ("vocab_in_context", "01")],
    "demo-s03": [("ask_answer_questions", "0010"), ("retell_key_details", "001")],
    "demo-s04": [("ask_answer_questions", "11111111"), ("story_elements", "111111"), ("cause_effect", "1011")],
    "demo-s05": [("ask_answer_questions", "100"), ("vocab_in_context", "0100")],
    "demo-s06": [("ask_answer_questions", "11011"), ("retell_key_details", "1111"), ("sequence_events", "011")],
}  # fmt: skip


def register_web(app: FastAPI, settings: Settings, *, config: WebConfig | None = None) -> None:
    """Mount the pages, static files, LTI routes and the class-mastery endpoint (once;
    called again with a ``config``, it only swaps the config in)."""
    existing: WebState | None = getattr(app.state, "readloom_web", None)
    if existing is not None:  # already mounted (create_app does it): only a new config
        if config is not None:
            existing.configure(config)
        return
    from readloom.api.lti import routes as lti_routes
    from readloom.api.routes import class_mastery

    web = WebState.build(settings, config or settings.web)
    app.state.readloom_web = web
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    included = [getattr(r, "original_router", None) for r in app.routes]
    if not any(r is class_mastery.router for r in included):  # create_app may include it
        app.include_router(class_mastery.router)
    app.include_router(lti_routes.router)
    app.include_router(lti_routes.scores)
    for path, page in (("/", "index.html"), ("/student", "student.html"), ("/teacher", "teacher.html")):  # fmt: skip
        app.add_api_route(path, _page(page), methods=["GET"], include_in_schema=False)
    app.add_api_route("/web/demo/open", demo_open, methods=["POST"], include_in_schema=False)
    app.add_api_route("/family/{token}", family_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/web/status", web_status, methods=["GET"], include_in_schema=False)
    _wrap_lifespan(app, web)


def enable_demo(app: FastAPI) -> None:
    """Turn on the local demo: a ``demo`` tenant with a class, a teacher and a student,
    opened from the home page by a browser on this machine only."""
    web: WebState = app.state.readloom_web
    web.demo = True


def _wrap_lifespan(app: FastAPI, web: WebState) -> None:
    """Run the page-key sweeper for the app's lifetime, inside create_app's lifespan."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            task = asyncio.create_task(
                sweeper(web, lambda: getattr(a.state, "runtime", None)), name="page-key-sweeper"
            )
            try:
                yield state
            finally:
                await bounded("page-key-sweeper", lambda: cancel_and_wait([task]), Deadline(1.0))
                if web._store is not None:
                    web._store.close()

    app.router.lifespan_context = lifespan


def _page(name: str) -> Any:
    async def page(web: WebDep) -> HTMLResponse:
        return render_page(web, name)

    page.__name__ = "page_" + name.split(".")[0]
    return page


async def web_status(request: Request, web: WebDep) -> dict[str, Any]:
    """What the home page needs to know: is the demo on and usable from here, and is
    the tutoring service loaded yet."""
    rt = getattr(request.app.state, "runtime", None)
    return {
        "demo": web.demo and is_local_request(request),
        "ready": bool(rt and rt.ready),
        "error": bool(rt and rt.load_error),
    }


def is_local_request(request: Request) -> bool:
    """A browser on this machine talking to us directly (no proxy in between, and a
    loopback Host header, so a DNS-rebinding page cannot pass for one)."""
    client = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(client).is_loopback
    except ValueError:
        loopback = False
    host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
    if host.startswith("[") and not host.endswith("]"):
        host = host + "]"
    proxied = any(h in request.headers for h in ("forwarded", "x-forwarded-for", "x-real-ip"))
    return loopback and host in LOOPBACK_HOSTS and not proxied


async def demo_open(request: Request, web: WebDep) -> Response:
    role = (await form_fields(request)).get("role", "")
    if role not in ("student", "teacher"):
        return render_page(
            web, "launch_error.html", status=400,
            values={"REASON": "bad_role", "MESSAGE": "Open the demo as a student or a teacher."},
        )  # fmt: skip
    if not (web.demo and is_local_request(request)):
        return render_page(
            web, "launch_error.html", status=403,
            values={"REASON": "demo_off", "MESSAGE": "The local demo is not available here."},
        )  # fmt: skip
    rt = request.app.state.runtime
    if not rt.ready or rt.service is None:
        return render_page(
            web, "launch_error.html", status=503,
            values={"REASON": "starting", "MESSAGE": "readloom is still starting: try again in a moment."},
        )  # fmt: skip
    service = rt.service
    tenant = web.config.demo_tenant
    await ensure_demo_world(rt, service, tenant)
    subject = DEMO_STUDENT if role == "student" else DEMO_TEACHER
    key, record = await issue_page_key(
        web, rt.db, tenant=tenant, role=role, subject=subject, source="demo"
    )
    boot = {
        "role": role, "key": key, "expires_at": expires_iso(record), "source": "demo",
        "passage_id": None, "grade": 4, "class_id": DEMO_CLASS, "ags": False,
    }  # fmt: skip
    return render_page(web, f"{role}.html", boot=boot)


_demo_lock = asyncio.Lock()


async def ensure_demo_world(rt: Any, service: Any, tenant: str) -> None:
    """The demo class: teacher, student and a few classmates with practice history."""
    from readloom.api.auth import ensure_tenant
    from readloom.service import learner, simclass
    from readloom.storage.models import Classroom, ClassStudent, ClassTeacher, Student

    async with _demo_lock:
        async with rt.db.reader() as s:
            if await s.get(Classroom, DEMO_CLASS) is not None:
                return
        students = [DEMO_STUDENT, *DEMO_CLASSMATES]
        for sid, practice in DEMO_CLASSMATES.items():
            if await learner.mastery(service, tenant, sid):
                continue  # already practised (the mastery store outlived the database)
            for skill, answers in practice:
                for a in answers:
                    await learner.record(service, tenant, sid, skill, a == "1")
        async with rt.db.writer() as s:
            await ensure_tenant(s, tenant)
            s.add(Classroom(id=DEMO_CLASS, tenant_id=tenant, name="Demo class (grade 4)"))
            await s.flush()
            s.add(ClassTeacher(class_id=DEMO_CLASS, teacher_id=DEMO_TEACHER))
            for sid in students:
                if await s.get(Student, (tenant, sid)) is None:
                    s.add(Student(tenant_id=tenant, id=sid, grade=4))
                s.add(ClassStudent(class_id=DEMO_CLASS, student_id=sid))
            await s.flush()
            # Four weeks of simulated practice for the classmates: the Insights tab's history.
            spec = simclass.SimSpec(tenant=tenant, class_id=DEMO_CLASS, teacher=DEMO_TEACHER,
                                    create_class=False, student_ids=tuple(DEMO_CLASSMATES))  # fmt: skip
            for group in simclass.in_fk_order(simclass.simulate(spec)):
                s.add_all(group)
                await s.flush()
        log.info("demo_world_created students=%d", len(students))
