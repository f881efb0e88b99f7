"""Errors whose messages are safe to show a user: they never carry student text."""

from __future__ import annotations


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
