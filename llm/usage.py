"""Token usage and cost per call, and the ledger that budgets are checked against.

Cost comes from the provider's own usage fields and ``settings.prices`` (USD per 1M
tokens). The ledger is the ``llm_usage`` table of the one database (``storage``): every
worker records into it and reads the same monthly totals. It stores counts, ids and
money, never text.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from readloom.llm.base import Usage
from readloom.settings import Settings
from readloom.storage.models_stores import LlmUsage
from readloom.storage.stores import StoreDB, store_db

_T = LlmUsage.__table__


def price_for(model: str, prices: Mapping[str, Mapping[str, float]]) -> Mapping[str, float] | None:
    """Exact model name, else the longest table key it starts with
    (``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``)."""
    if model in prices:
        return prices[model]
    keys = [k for k in prices if model.startswith(k)]
    return prices[max(keys, key=len)] if keys else None


def cost_usd(model: str, usage: Usage, prices: Mapping[str, Mapping[str, float]]) -> float:
    price = price_for(model, prices)
    if price is None:
        return 0.0
    dollars = usage.input_tokens * price.get("input", 0.0)
    dollars += usage.output_tokens * price.get("output", 0.0)
    return round(dollars / 1_000_000, 10)


def month_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m")


MONTH_TOTAL_TTL_S = 5.0  # how stale another worker's usage may be in a budget check


class UsageLedger:
    """Append-only usage rows in the shared database; monthly totals are read from it
    (several workers share one budget).

    A tenant's monthly total is a sum over its month's rows, checked before every paid
    call: at 100,000 rows it took 19 ms, on the event loop. So the total is read at most
    once per ``MONTH_TOTAL_TTL_S`` per process, and this process's own calls are added to
    it as they are recorded: a worker sees its own spending at once, the others' within
    seconds (a monthly allowance overshoots by at most those seconds' calls)."""

    def __init__(self, db: StoreDB | Settings | Path, *, clock: Any = time.time) -> None:
        self._db = db if isinstance(db, StoreDB) else store_db(db)
        self.path = self._db.path
        self._clock = clock
        self._totals: dict[tuple[str, str], tuple[float, int]] = {}  # -> (read at, tokens)
        self._totals_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> UsageLedger:
        return cls(settings)

    def record(
        self,
        *,
        tenant: str,
        provider: str,
        model: str,
        prompt_id: str,
        usage: Usage,
        cost_usd: float,
        cached: bool = False,
        student_id: str | None = None,
    ) -> None:
        ts = self._clock()
        with self._db.write() as conn:
            conn.execute(
                insert(_T).values(
                    ts=ts, month=month_of(ts), tenant=tenant, provider=provider, model=model,
                    prompt_id=prompt_id, input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens, cost_usd=cost_usd, cached=int(cached),
                    student_id=student_id,
                )
            )  # fmt: skip
        key = (tenant, month_of(ts))
        with self._totals_lock:
            if key in self._totals:
                read_at, tokens = self._totals[key]
                self._totals[key] = (read_at, tokens + usage.input_tokens + usage.output_tokens)

    def tokens_this_month(self, tenant: str) -> int:
        key = (tenant, month_of(self._clock()))
        with self._totals_lock:
            hit = self._totals.get(key)
        if hit is not None and time.monotonic() - hit[0] < MONTH_TOTAL_TTL_S:
            return hit[1]
        read_at = time.monotonic()
        stmt = select(func.coalesce(func.sum(_T.c.input_tokens + _T.c.output_tokens), 0)).where(
            _T.c.tenant == key[0], _T.c.month == key[1]
        )
        with self._db.read() as conn:
            tokens = int(conn.execute(stmt).scalar_one())
        with self._totals_lock:
            self._totals[key] = (read_at, tokens)
        return tokens

    def summary(self, tenant: str | None = None) -> dict[str, Any]:
        """Calls, tokens and cost, overall or for one tenant (for reports and the CLI)."""
        stmt = select(
            func.count(),
            func.coalesce(func.sum(_T.c.input_tokens), 0),
            func.coalesce(func.sum(_T.c.output_tokens), 0),
            func.coalesce(func.sum(_T.c.cost_usd), 0),
            func.coalesce(func.sum(_T.c.cached), 0),
        )
        if tenant:
            stmt = stmt.where(_T.c.tenant == tenant)
        with self._db.read() as conn:
            calls, tin, tout, cost, cached = conn.execute(stmt).one()
        return {
            "calls": int(calls),
            "cached_calls": int(cached),
            "input_tokens": int(tin),
            "output_tokens": int(tout),
            "cost_usd": round(float(cost), 6),
        }

    def rows(self, tenant: str) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            result = conn.execute(select(_T).where(_T.c.tenant == tenant).order_by(_T.c.id))
            return [dict(r._mapping) for r in result]

    def grouped(
        self, *, since_ts: float | None, until_ts: float | None, tenant: str | None
    ) -> list[tuple[Any, ...]]:
        """(tenant, provider, month, student_id, calls, cached, input, output, cost) per
        group, for cost reports (``observability/cost.py``)."""
        stmt = select(
            _T.c.tenant, _T.c.provider, _T.c.month, _T.c.student_id, func.count(),
            func.coalesce(func.sum(_T.c.cached), 0), func.coalesce(func.sum(_T.c.input_tokens), 0),
            func.coalesce(func.sum(_T.c.output_tokens), 0), func.coalesce(func.sum(_T.c.cost_usd), 0),
        ).group_by(_T.c.tenant, _T.c.provider, _T.c.month, _T.c.student_id)  # fmt: skip
        if since_ts is not None:
            stmt = stmt.where(_T.c.ts >= since_ts)
        if until_ts is not None:
            stmt = stmt.where(_T.c.ts < until_ts)
        if tenant is not None:
            stmt = stmt.where(_T.c.tenant == tenant)
        with self._db.read() as conn:
            return [tuple(r) for r in conn.execute(stmt)]

    def forget_student(
        self, tenant: str, student_ids: list[str], *, conn: Connection | None = None
    ) -> int:
        """FERPA erasure: the student's calls stay in the tenant's totals (billing) but
        no longer name the student (``student_ids``: every form the id was recorded
        under). In the caller's transaction when ``conn`` is given; returns rows changed."""
        stmt = (
            update(_T)
            .where(_T.c.tenant == tenant, _T.c.student_id.in_(student_ids))
            .values(student_id=None)
        )
        if conn is not None:
            return int(conn.execute(stmt).rowcount)
        with self._db.write() as own:
            return int(own.execute(stmt).rowcount)

    def close(self) -> None:
        """The pool is shared by every store of the process (``storage.stores``)."""
