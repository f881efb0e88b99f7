"""Who may ask for what, how much text, and what happens when a guard breaks.

Roles and tenant scoping are checked before any text is analysed. A guard that raises or
runs past ``settings.guard_timeout_s`` denies the request (``guard_error`` /
``guard_timeout``) with a clear, child-friendly message: guardrails fail closed.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from readloom.guardrails.base import Guard, GuardContext, GuardResult, Role

log = logging.getLogger(__name__)

MODES_BY_ROLE: dict[str, frozenset[str]] = {
    "student": frozenset({"tutor"}),
    "teacher": frozenset({"tutor", "questions"}),
    "partner": frozenset({"tutor", "questions"}),  # an LMS acting for its users
    "admin": frozenset({"tutor", "questions"}),
}
# Who sees real values put back in place of <PERSON_1>: the student (their own session) and
# their teacher, in every reply, history and question. Partners and admins see pseudonyms
# everywhere (an LMS and an operator need no child's name to do their job) with one
# exception: the FERPA export (``GET /v1/students/{id}/export``, partner/admin only), which is
# the family's copy of what readloom holds and so carries the real values.
REIDENTIFY_ROLES: frozenset[str] = frozenset({"student", "teacher"})
EXPORT_ROLES: frozenset[str] = frozenset({"partner", "admin"})

GUARD_FAILED_REPLY = (
    "Sorry, I couldn't safely check your message just now, so I can't answer it. "
    "Please try again in a moment."
)


def can_reidentify(role: Role | str, *, purpose: str = "view") -> bool:
    """``purpose="ferpa_export"`` for the export; everything else is a view."""
    if purpose == "ferpa_export":
        return role in EXPORT_ROLES
    return role in REIDENTIFY_ROLES


class PolicyGuard:
    """Role -> allowed modes; a session belongs to one tenant and only that tenant may use it."""

    name = "policy"

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        modes = MODES_BY_ROLE.get(ctx.role)
        if modes is None:
            return GuardResult(text=text, allowed=False, reason="unknown_role", severity="low")
        if ctx.mode not in modes:
            return GuardResult(text=text, allowed=False, reason="mode_forbidden", severity="low")
        if ctx.session_tenant is not None and ctx.session_tenant != ctx.tenant:
            return GuardResult(text=text, allowed=False, reason="tenant_mismatch", severity="high")
        return GuardResult(text=text, allowed=True)


class SizeLimitGuard:
    """Refuse oversized input before any model or analyser sees it."""

    name = "size_limit"

    def __init__(self, *, max_chars: int):
        self.max_chars = max_chars

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        if len(text) <= self.max_chars:
            return GuardResult(text=text, allowed=True)
        return GuardResult(
            text="",
            allowed=False,
            reason="input_too_long",
            severity="low",
            scripted_reply=(
                f"That's a lot of text! Can you send a shorter message "
                f"(under {self.max_chars} characters)?"
            ),
        )


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="guard")
        return _pool


def shutdown_pool() -> None:
    """Let the guard workers finish and end (before a CLI run's ``os._exit``)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


class TimedGuard:
    """Runs a guard with a deadline. An exception or a timeout is a denial, never a pass.

    A guard stuck past its deadline keeps its worker thread (Python cannot kill threads), so
    the pool is bounded: if every worker is stuck, every request times out, and so is denied.
    """

    def __init__(self, guard: Guard, *, timeout_s: float, inline: bool = False):
        """``inline`` runs the guard in the caller's thread and checks the deadline after
        it returns: only for checks that cannot hang (no regex, no I/O), saving a thread hop."""
        self.guard = guard
        self.name = guard.name
        self.timeout_s = timeout_s
        self.inline = inline

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        if self.inline:
            return self._check_inline(text, ctx)
        future = _executor().submit(self.guard.check, text, ctx)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()
            log.warning("guard.timeout guard=%s timeout_s=%s", self.name, self.timeout_s)
            return self._deny(text, "guard_timeout")
        except Exception as exc:  # noqa: BLE001 - any failure of a guard is a denial
            log.warning("guard.error guard=%s error=%s", self.name, type(exc).__name__)
            return self._deny(text, "guard_error")

    def _check_inline(self, text: str, ctx: GuardContext) -> GuardResult:
        start = time.perf_counter()
        try:
            result = self.guard.check(text, ctx)
        except Exception as exc:  # noqa: BLE001 - any failure of a guard is a denial
            log.warning("guard.error guard=%s error=%s", self.name, type(exc).__name__)
            return self._deny(text, "guard_error")
        if time.perf_counter() - start > self.timeout_s:
            log.warning("guard.timeout guard=%s timeout_s=%s", self.name, self.timeout_s)
            return self._deny(text, "guard_timeout")
        return result

    @staticmethod
    def _deny(text: str, reason: str) -> GuardResult:
        return GuardResult(
            text=text,
            allowed=False,
            reason=reason,
            severity="medium",
            scripted_reply=GUARD_FAILED_REPLY,
        )
