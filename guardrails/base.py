"""The guard contract: every check has one shape, so checks are chained in config.

A guard that raises denies the request (fail closed) with reason ``guard_error``.
Results carry codes and entity *types*, never the text that triggered them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["student", "teacher", "partner", "admin"]
Severity = Literal["low", "medium", "high", "critical"]


@dataclass(frozen=True)
class GuardContext:
    tenant: str = "default"  # the caller's tenant (from its API key)
    role: Role = "student"
    grade: int = 5
    session_id: str = "anonymous"
    allow_list: frozenset[str] = frozenset()  # e.g. character names in the passage
    direction: Literal["input", "output", "passage"] = "input"
    mode: str = "tutor"  # "tutor" | "questions": what the caller asks for (policy.py)
    session_tenant: str | None = None  # the tenant that owns the session; None = new session
    student_id: str = "anonymous"  # pseudonymised before it reaches the audit log


@dataclass(frozen=True)
class GuardResult:
    text: str
    allowed: bool
    risk: float | None = None
    reason: str | None = None  # a code such as "injection", never user text
    entities: tuple[str, ...] = ()  # entity types found, never values
    severity: Severity | None = None
    scripted_reply: str | None = None  # a caring reply sent instead of any model output


class Guard(Protocol):
    name: str

    def check(self, text: str, ctx: GuardContext) -> GuardResult: ...


@dataclass
class GuardOutcome:
    text: str
    allowed: bool
    results: dict[str, GuardResult] = field(default_factory=dict)
    denied_by: str | None = None
    reason: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(e for r in self.results.values() for e in r.entities)

    @property
    def scripted_reply(self) -> str | None:
        return self.results[self.denied_by].scripted_reply if self.denied_by else None


def run_guards(
    guards: Sequence[Guard], text: str, ctx: GuardContext, *, fail_fast: bool = True
) -> GuardOutcome:
    """Run guards in order, each on the previous one's sanitized text. Fails closed."""
    import time

    outcome = GuardOutcome(text=text, allowed=True)
    for guard in guards:
        start = time.perf_counter()
        try:
            result = guard.check(outcome.text, ctx)
        except Exception:  # noqa: BLE001 - any failure of a guard is a denial
            result = GuardResult(text=outcome.text, allowed=False, reason="guard_error")
        outcome.timings_ms[guard.name] = (time.perf_counter() - start) * 1000
        outcome.results[guard.name] = result
        outcome.text = result.text
        if not result.allowed and outcome.allowed:
            outcome.allowed = False
            outcome.denied_by = guard.name
            outcome.reason = result.reason
            if fail_fast:
                break
    return outcome


@dataclass(frozen=True)
class Redaction:
    text: str
    entities: tuple[str, ...]  # entity types replaced, in order of appearance


class Redactor(Protocol):
    """Replaces personal data with stable per-session pseudonyms (``<PERSON_1>``)."""

    def redact(
        self, text: str, *, session_id: str, allow_list: frozenset[str] = ...
    ) -> Redaction: ...

    def reidentify(self, text: str, *, session_id: str) -> str: ...

    def mask(self, text: str, *, allow_list: frozenset[str] = ...) -> Redaction:
        """Personal data removed, nothing remembered (what may be cached or logged)."""
        ...
