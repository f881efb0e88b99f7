"""Per-tenant cost control: a monthly token budget and a request rate limit.

Both refuse politely with a ``ReadloomError`` whose message can be shown to a child or a
teacher as is. Limits are per process (one machine today; Redis when there are several
workers, DESIGN §6). A limit of 0 or less switches that check off.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from readloom.errors import BudgetExceeded, RateLimited
from readloom.llm.usage import UsageLedger
from readloom.settings import Settings

RATE_LIMITED_MESSAGE = (
    "Lots of questions are coming in right now. Please wait a few seconds and try again."
)
BUDGET_MESSAGE = (
    "Your school has used this month's reading-helper allowance. "
    "Please ask your teacher; it renews at the start of next month."
)


class TokenBucket:
    """``capacity`` requests at once, refilled at ``rate`` per second."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = now

    def take(self, now: float) -> float:
        """Take one token; returns 0.0 on success, else the seconds until one is free."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class TenantLimits:
    def __init__(
        self,
        settings: Settings,
        ledger: UsageLedger,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = settings.rate_limit_per_minute
        self.monthly_tokens = settings.tenant_token_budget
        self._ledger = ledger
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, tenant: str) -> None:
        """Count one request against the tenant's rate; raise ``RateLimited`` if over."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = self._buckets[tenant] = TokenBucket(self.per_minute, self.per_minute / 60, now)
        wait = bucket.take(now)
        if wait > 0:
            err = RateLimited(RATE_LIMITED_MESSAGE)
            err.retry_after = round(wait, 3)  # type: ignore[attr-defined]
            raise err

    def check_budget(self, tenant: str) -> None:
        """Raise ``BudgetExceeded`` once this month's tokens reach the tenant's budget."""
        if self.monthly_tokens <= 0:
            return
        if self._ledger.tokens_this_month(tenant) >= self.monthly_tokens:
            raise BudgetExceeded(BUDGET_MESSAGE)

    def remaining(self, tenant: str) -> int | None:
        if self.monthly_tokens <= 0:
            return None
        return max(0, self.monthly_tokens - self._ledger.tokens_this_month(tenant))
