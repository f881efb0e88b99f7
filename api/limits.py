"""Request body size limit (413), enforced on the declared length and on the bytes read."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from readloom.api.problems import PROBLEM_JSON
from readloom.errors import PROBLEM_TYPE_BASE as TYPE_BASE


class BodySizeLimit:
    """Pure ASGI middleware (streams untouched): refuses bodies above the limit for the
    path, before the app reads them when ``Content-Length`` says so, else as they arrive."""

    def __init__(self, app: ASGIApp, *, default: int, overrides: dict[str, int]):
        self.app = app
        self.default = default
        self.overrides = overrides

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject(send, limit, scope.get("path", ""))
            return
        seen = 0
        overflow = False

        async def limited_receive() -> Message:
            nonlocal seen, overflow
            if overflow:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # stop reading: the app sees a disconnect, we answer 413
                    overflow = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not overflow:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not overflow:
                raise
        if overflow:
            await _reject(send, limit, scope.get("path", ""))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _detail(limit: int) -> str:
    return f"request body is larger than the {limit} byte limit for this endpoint"


async def _reject(send: Send, limit: int, path: str) -> None:
    body: dict[str, Any] = {
        "type": TYPE_BASE + "payload_too_large",
        "title": "Request Entity Too Large",
        "status": 413,
        "detail": _detail(limit),
        "code": "payload_too_large",
        "instance": path,
    }
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(raw)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class NoNulBytes:
    """Refuses (400) a NUL byte anywhere in the path or query: no column may hold one
    (Postgres refuses it), and no identifier needs one. Bodies are checked by the schemas."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            query = scope.get("query_string", b"")
            if "\x00" in path or b"%00" in query or b"\x00" in query:
                body = json.dumps(
                    {
                        "type": TYPE_BASE + "invalid_input",
                        "title": "Bad Request",
                        "status": 400,
                        "detail": "NUL bytes are not allowed in the path or query",
                        "code": "invalid_input",
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
