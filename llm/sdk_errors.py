"""Turn an SDK failure into our ``ProviderError`` without carrying any body text.

Both official SDKs put the provider's response body into their exception messages, and
a provider may echo prompt text there; so the message we build holds only the provider
name, a kind code and the status, and adapters raise it outside the ``except`` block so
no traceback chains back to the SDK exception.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

from readloom.llm.base import ProviderError

# Kinds a failure can have. Retryable ones are retried on the same provider (bad_output
# only once); the rest fail over at once.
RETRYABLE_KINDS = frozenset({"timeout", "rate_limited", "server", "connection", "stream"})
# Kinds that say the provider itself is unhealthy (they count toward its circuit breaker).
# A 400, a content-policy refusal or a malformed answer says nothing about its health.
BREAKER_KINDS = frozenset(
    {"timeout", "rate_limited", "server", "connection", "stream", "auth", "quota"}
)

_CONTENT_POLICY_CODES = frozenset(
    {"content_policy_violation", "content_filter", "moderation_blocked", "invalid_prompt"}
)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _body_code(body: Any) -> str | None:
    """The provider's machine error code (``error.code`` / ``error.type``), never text."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            for key in ("code", "type"):
                code = err.get(key)
                if isinstance(code, str):
                    return code
    return None


def kind_for_status(status: int, code: str | None = None) -> str:
    if code in _CONTENT_POLICY_CODES:
        return "content_policy"
    if status == 429:
        return "quota" if code == "insufficient_quota" else "rate_limited"
    if status in (401, 403):
        return "auth"
    if status == 402:
        return "quota"
    if status in (408, 409):
        return "timeout" if status == 408 else "server"
    if status >= 500:
        return "server"
    return "bad_request"


def status_error(
    provider: str, status: int, headers: Mapping[str, str] | None, body: Any
) -> ProviderError:
    code = _body_code(body)
    kind = kind_for_status(status, code)
    return ProviderError(
        f"{provider}: {kind} (HTTP {status})",
        provider=provider,
        retryable=kind in RETRYABLE_KINDS,
        status=status,
        retry_after=parse_retry_after(headers),
        kind=kind,
    )


def simple_error(provider: str, kind: str, *, retryable: bool | None = None) -> ProviderError:
    if retryable is None:
        retryable = kind in RETRYABLE_KINDS
    return ProviderError(f"{provider}: {kind}", provider=provider, retryable=retryable, kind=kind)


def bad_output(provider: str) -> ProviderError:
    """A malformed answer: retried once on the same provider, then failed over."""
    return simple_error(provider, "bad_output", retryable=True)
