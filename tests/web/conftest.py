"""Browser tests: one readloom server (the demo on, a test LMS registered) for the whole
session, so the tutoring models load once, and a headless Chromium per test module.

Every browser test module here is marked ``browser`` and skipped, with the reason,
when Debian's chromium is missing (``webtest_support.BROWSER``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lti_platform import FakePlatform  # noqa: E402
from webtest_support import CHROMEBOOK, CHROMIUM, CHROMIUM_ARGS, WebServer, make_server  # noqa: E402

from readloom.settings import Settings, configure_offline_environment  # noqa: E402

configure_offline_environment()


@pytest.fixture(scope="session")
def web_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readloom-web-home")


@pytest.fixture(scope="session")
def web_settings(web_home: Path) -> Settings:
    return Settings(home=web_home)


@pytest.fixture(scope="session")
def web_services(web_settings: Settings) -> Any:
    from readloom.service import build_services

    return build_services(web_settings)


@pytest.fixture(scope="session")
def web(web_settings: Settings, web_services: Any) -> Iterator[WebServer]:
    server = make_server(web_settings, web_services)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lms(web: WebServer, web_settings: Settings) -> Iterator[FakePlatform]:
    """A test LMS, registered with readloom as `readloom lti register` would."""
    from readloom.api.lti.registry import Platform, PlatformRegistry

    platform = FakePlatform(tool_url=web.url).start()
    PlatformRegistry(web_settings).register(
        Platform(**platform.registration(), tenant="lti-test-district")
    )
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A browser per test module (a launch takes a second or two). Not per session: while
    Playwright's sync API is open it keeps an event loop running in this thread, and tests that
    run after these ones call asyncio.run(). (Package scope would not help: tests/web is a plain
    folder, and pytest ends such fixtures only with the session.)"""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """``new_page(viewport=...)``: a page in a fresh browser context (own cookies and
    storage); page errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(viewport: dict[str, int] | None = None, **kw: Any) -> Any:
        ctx = browser.new_context(viewport=viewport or CHROMEBOOK, accept_downloads=True, **kw)
        ctx.set_default_timeout(60_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
