"""Per-tenant cost control: a monthly token budget and a rate of paid model calls.

Both refuse politely with a ``ReadloomError`` whose message can be shown to a child or a
teacher as is. The rate counts calls that reach a paid provider only: the offline tier
costs nothing and an evaluator's redraft is part of one turn. It is a moving window in
the shared ``storage.ratelimit.Limiter`` (Redis when several workers run), so N workers
allow the limit once. The budget is read from the shared usage ledger. A limit of 0 or
less switches that check off.
"""

from __future__ import annotations

from readloom.errors import BudgetExceeded, RateLimited
from readloom.llm.usage import UsageLedger
from readloom.settings import Settings
from readloom.storage.ratelimit import Limiter

RATE_LIMITED_MESSAGE = (
    "Lots of questions are coming in right now. Please wait a few seconds and try again."
)
BUDGET_MESSAGE = (
    "Your school has used this month's reading-helper allowance. "
    "Please ask your teacher; it renews at the start of next month."
)


class TenantLimits:
    def __init__(
        self, settings: Settings, ledger: UsageLedger, *, limiter: Limiter | None = None
    ) -> None:
        self.per_minute = settings.tenant_model_calls_per_minute
        self.monthly_tokens = settings.tenant_token_budget
        self._ledger = ledger
        self.limiter = limiter or Limiter(settings)

    def admit(self, tenant: str) -> None:
        """Count one paid model call against the tenant's rate; ``RateLimited`` if over."""
        wait = self.limiter.hit("model_calls", tenant, self.per_minute)
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
