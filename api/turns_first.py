"""Marks a child's tutoring request as a turn in flight for its whole life (``foreground``).

Pure ASGI, so the mark covers what runs before the handler too (the key check, the
session lookup, the idempotency claim): an upload in this process then waits from the
moment a child's message arrives, not only once its turn has begun.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from readloom import foreground

# POST /v1/sessions (a new session's opening turn) and /v1/sessions/{id}/messages
TURN_PATH = re.compile(r"^/v1/sessions(/[^/]+/messages)?/?$")


class TurnsFirst:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not TURN_PATH.match(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        with foreground.turn():
            await self.app(scope, receive, send)
