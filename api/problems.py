"""RFC 9457 problem+json for every error the API returns.

Domain errors (``ReadloomError`` subclasses) map by their ``.status`` and ``.code``;
validation errors become 422 naming each offending field; anything unexpected becomes a
generic 500 problem whose log line carries the exception type only, never request text.
"""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from readloom.errors import Conflict as Conflict  # re-exported: raised by the core
from readloom.errors import ReadloomError, problem_body

log = logging.getLogger("readloom.api")

PROBLEM_JSON = "application/problem+json"


class Forbidden(ReadloomError):
    code = "forbidden"
    status = 403


class Unauthorized(ReadloomError):
    code = "unauthorized"
    status = 401


class PayloadTooLarge(ReadloomError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(ReadloomError):
    code = "unsupported_media_type"
    status = 415


class RateLimitExceeded(ReadloomError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ReadloomError):
    code = "unavailable"
    status = 503


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, detail, code=code)
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


async def _readloom_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReadloomError)
    headers = None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    elif exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="readloom"'}
    status = exc.status if 400 <= exc.status <= 599 else 500
    if status >= 500:
        log.warning("domain_error code=%s status=%s", exc.code, status)
    return problem(status, exc.message, code=exc.code, instance=request.url.path, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Never echo the input back (it may be a child's message): location, message, type.
    errors = [
        {"loc": _loc(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors[:5]) or "invalid request"
    return problem(422, detail, code="validation_error", instance=request.url.path, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such resource: {request.url.path}"
    if exc.status_code == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}"
    return problem(
        exc.status_code,
        detail,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error type=%s path=%s", type(exc).__name__, request.url.path)
    return problem(500, "internal error", code="internal_error", instance=request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ReadloomError, _readloom_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {
        "description": HTTPStatus(s).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for s in (400, 401, 403, 404, 409, 413, 422, 429)
}
