"""Limits that fit schools: a turn per student, a turn per tenant, counted once per turn.

A tutoring turn counts once against its student (``student_turns_per_minute``, keyed by
tenant and the student's pseudonym, whichever key carries it: a student's own page key
or the partner's LMS key) and once against its tenant (``tenant_turns_per_minute``, sized
for a district). A teacher's question batch is one request, however many passages or
model calls it takes. Inside a turn nothing more is counted here: the model-call rate in
``llm/budget.py`` counts paid provider calls only, never the offline tier or a redraft.
All windows live in the shared ``storage.ratelimit.Limiter`` (Redis with several workers).
"""

from __future__ import annotations

from readloom.errors import RateLimited
from readloom.settings import Settings
from readloom.storage.ratelimit import Limiter

SLOW_DOWN = "You're sending messages very fast. Take a breath, read the passage, and try again."
BUSY = "Lots of questions are coming in right now. Please wait a few seconds and try again."


def _refuse(message: str, wait: float) -> RateLimited:
    err = RateLimited(message)
    err.retry_after = round(wait, 3)  # type: ignore[attr-defined]
    return err


def admit_turn(limiter: Limiter, settings: Settings, *, tenant: str, student: str) -> None:
    """Count one tutoring turn, or raise ``RateLimited`` (429 with Retry-After)."""
    wait = limiter.hit("student_turns", f"{tenant}/{student}", settings.student_turns_per_minute)
    if wait > 0:
        raise _refuse(SLOW_DOWN, wait)
    admit_request(limiter, settings, tenant=tenant)


def admit_request(limiter: Limiter, settings: Settings, *, tenant: str) -> None:
    """Count one tenant-level request (a turn, a teacher's question batch)."""
    wait = limiter.hit("tenant_turns", tenant, settings.tenant_turns_per_minute)
    if wait > 0:
        raise _refuse(BUSY, wait)
