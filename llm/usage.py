"""Token usage and cost per call, and the ledger that budgets are checked against.

Cost comes from the provider's own usage fields and ``settings.prices`` (USD per 1M
tokens). The ledger is SQLite under ``READLOOM_HOME``; it stores counts, ids and money,
never text. (Several API workers would move it to Postgres/Redis; see DESIGN §6.)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from readloom.llm.base import Usage
from readloom.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_usage (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    month TEXT NOT NULL,
    tenant TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cached INTEGER NOT NULL DEFAULT 0,
    student_id TEXT
);
CREATE INDEX IF NOT EXISTS llm_usage_tenant_month ON llm_usage (tenant, month);
"""


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


class UsageLedger:
    """Append-only usage rows plus in-memory monthly totals per tenant (one process)."""

    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._month_tokens: dict[tuple[str, str], int] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> UsageLedger:
        return cls(settings.ensure_home() / "llm_usage.sqlite")

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
        month = month_of(ts)
        with self._lock:
            self._db.execute(
                "INSERT INTO llm_usage (ts, month, tenant, provider, model, prompt_id,"
                " input_tokens, output_tokens, cost_usd, cached, student_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ts,
                    month,
                    tenant,
                    provider,
                    model,
                    prompt_id,
                    usage.input_tokens,
                    usage.output_tokens,
                    cost_usd,
                    int(cached),
                    student_id,
                ),
            )
            key = (tenant, month)
            if key in self._month_tokens:
                self._month_tokens[key] += usage.total

    def tokens_this_month(self, tenant: str) -> int:
        key = (tenant, month_of(self._clock()))
        with self._lock:
            if key not in self._month_tokens:
                row = self._db.execute(
                    "SELECT COALESCE(SUM(input_tokens + output_tokens), 0) FROM llm_usage"
                    " WHERE tenant = ? AND month = ?",
                    key,
                ).fetchone()
                self._month_tokens[key] = int(row[0])
            return self._month_tokens[key]

    def summary(self, tenant: str | None = None) -> dict[str, Any]:
        """Calls, tokens and cost, overall or for one tenant (for reports and the CLI)."""
        where, args = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),"
                f" COALESCE(SUM(cost_usd), 0), COALESCE(SUM(cached), 0) FROM llm_usage {where}",
                args,
            ).fetchone()
        calls, tin, tout, cost, cached = row
        return {
            "calls": calls,
            "cached_calls": cached,
            "input_tokens": tin,
            "output_tokens": tout,
            "cost_usd": round(cost, 6),
        }

    def rows(self, tenant: str) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM llm_usage WHERE tenant = ? ORDER BY id", (tenant,)
            )
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()
