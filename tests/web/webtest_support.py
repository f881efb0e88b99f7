"""Helpers for the browser tests: a readloom server (uvicorn in a thread) with the web
pages mounted, Chromium launch options, screenshots and page checks. Imported by name
(``webtest_support``): ``conftest.py`` puts this folder on ``sys.path``."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "Debian's chromium is not installed at /usr/bin/chromium (run .ci/chromium.sh)"
BROWSER = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMEBOOK = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}
A11Y_JS = (Path(__file__).resolve().parent / "a11y_checks.js").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebServer:
    """``create_app`` + ``register_web`` (+ the demo) served on 127.0.0.1."""

    def __init__(self, app: Any):
        import uvicorn

        self.app = app
        # Bound here and handed to uvicorn: no window in which another process (or test)
        # can take the port between choosing it and listening on it.
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout_s: float = 300.0) -> WebServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                r = httpx.get(self.url + "/readyz", timeout=5)
                if r.status_code == 200:
                    return self
                if '"error:' in r.text:
                    raise RuntimeError(f"server failed to load: {r.text}")
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("readloom did not become ready")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def make_server(settings: Any, services: Any, **web_config: Any) -> WebServer:
    """``create_app`` + ``register_web`` (``web_config``: WebConfig fields) + the demo."""
    from readloom.api.app import create_app
    from readloom.api.config import ApiConfig
    from readloom.api.lti.context import WebConfig
    from readloom.api.web import enable_demo, register_web

    app = create_app(settings, config=ApiConfig(rate_limit_per_minute=100_000), services=services)
    register_web(app, settings, config=WebConfig(**web_config))
    enable_demo(app)
    return WebServer(app).start()


def shot(page: Any, name: str, **kw: Any) -> Path:
    """Save a screenshot under tests/artifacts/ (gitignored) for a human to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **kw)
    return path


def a11y_report(page: Any) -> dict[str, Any]:
    """Unlabelled controls and text below WCAG AA contrast on the current page."""
    return page.evaluate(A11Y_JS)


def no_horizontal_scroll(page: Any) -> bool:
    return page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    vp = page.viewport_size
    return bool(
        box
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= vp["width"] + 1
        and box["y"] + box["height"] <= vp["height"] + 1
    )


def mint_key(settings: Any, *, tenant: str, role: str, subject: str | None = None) -> str:
    """An API key written straight to the database (synchronously: in the browser tests
    Playwright's event loop owns the main thread)."""
    from sqlalchemy.orm import Session

    from readloom.api.auth import hash_key
    from readloom.api.auth import mint_key as new_secret
    from readloom.storage.db import sync_engine
    from readloom.storage.models import ApiKey, Tenant

    key_id, key, prefix = new_secret()
    engine = sync_engine(settings)
    try:
        with Session(engine) as s, s.begin():
            if s.get(Tenant, tenant) is None:
                s.add(Tenant(id=tenant, home_page=f"https://{tenant}.example"))
                s.flush()
            s.add(ApiKey(id=key_id, tenant_id=tenant, role=role, subject=subject, prefix=prefix,
                         key_hash=hash_key(key)))  # fmt: skip
    finally:
        engine.dispose()
    return key
