"""Errors whose messages are safe to show a user: they never carry student text."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ReadloomError(Exception):
    """Base error; ``code`` is a stable machine-readable reason, ``status`` an HTTP status."""

    code = "readloom_error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class InputError(ReadloomError):
    code = "invalid_input"
    status = 422


class NotFound(ReadloomError):
    code = "not_found"
    status = 404


class GuardrailDenied(ReadloomError):
    """A guardrail refused the request (or failed, and so refused: fail closed)."""

    code = "guardrail_denied"
    status = 403


class BudgetExceeded(ReadloomError):
    code = "budget_exceeded"
    status = 429


class RateLimited(ReadloomError):
    code = "rate_limited"
    status = 429


class Conflict(ReadloomError):
    """The request clashes with one still running (``retry_after``: seconds to wait)."""

    code = "conflict"
    status = 409

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


PROBLEM_TYPE_BASE = "urn:readloom:problem:"


def problem_body(
    status: int, detail: str, *, code: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An RFC 9457 problem body: the HTTP answer's, and an SSE ``error`` event's."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    code = code or title.lower().replace(" ", "_")
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code, "title": title, "status": status,
        "detail": detail, "code": code,
    }  # fmt: skip
    body.update(extra)
    return body
