"""What the web pages and the LTI routes share: their config, stores and page rendering.

Pages receive their API key in a ``<script type="application/json" id="rl-boot">``
block of the HTML answer to a launch (LTI, or the local demo's "Open as…" form): never
in a URL, so it cannot end up in a log, a referrer or the browser history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from readloom.api.lti.ags import AgsClient
from readloom.api.lti.registry import PlatformRegistry
from readloom.api.lti.store import LaunchStore
from readloom.api.lti.toolkey import ToolKey
from readloom.api.lti.verify import JwksCache
from readloom.settings import Settings
from readloom.settings import WebSection as WebConfig  # settings.web

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass
class WebState:
    settings: Settings
    config: WebConfig
    registry: PlatformRegistry
    tool_key: ToolKey
    jwks: JwksCache
    ags: AgsClient
    _store: LaunchStore | None = None
    demo: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, config: WebConfig) -> WebState:
        tool_key = ToolKey(settings)
        return cls(
            settings=settings,
            config=config,
            registry=PlatformRegistry(settings),
            tool_key=tool_key,
            jwks=JwksCache(config.jwks_timeout_s),
            ags=AgsClient(tool_key, timeout_s=config.ags_timeout_s),
        )

    def configure(self, config: WebConfig) -> None:
        self.config = config
        self.jwks.timeout_s = config.jwks_timeout_s
        self.ags.timeout_s = config.ags_timeout_s

    @property
    def store(self) -> LaunchStore:
        if self._store is None:  # opened on first use: READLOOM_HOME may not exist at import
            self._store = LaunchStore(self.settings)
        return self._store

    def frame_ancestors(self) -> str:
        origins = sorted({p.origin for p in self.registry.all()})
        return " ".join(["'self'", *origins])


def get_web(request: Request) -> WebState:
    return request.app.state.readloom_web


@cache
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>``, no HTML comment openers)."""
    return (
        json.dumps(data, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def render_page(
    web: WebState, name: str, *, boot: dict[str, Any] | None = None, status: int = 200,
    values: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    """A page from ``api/templates``; ``values`` are plain text (HTML-escaped here)."""
    from html import escape

    html = _template(name).replace("{{BOOT}}", _script_json(boot) if boot else "")
    for k, v in (values or {}).items():
        html = html.replace("{{" + k + "}}", escape(v))
    return HTMLResponse(html, status_code=status, headers=page_headers(web))


def page_headers(web: WebState) -> dict[str, str]:
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {web.frame_ancestors()}"
    )
    return {
        "Content-Security-Policy": csp,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
