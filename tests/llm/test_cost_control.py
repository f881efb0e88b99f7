"""Cost per call, the usage ledger, budgets, rate limits and the response cache."""

from __future__ import annotations

import sqlite3

import pytest
from pydantic import BaseModel

from readloom.errors import BudgetExceeded, RateLimited
from readloom.llm.base import ChatMessage, LLMRequest, LLMResult, Usage
from readloom.llm.budget import TenantLimits
from readloom.llm.cache import ResponseCache, cache_key
from readloom.llm.usage import UsageLedger, cost_usd
from readloom.settings import DEFAULT_PRICES


class Clock:
    def __init__(self, now: float = 1_760_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class QuestionSet(BaseModel):
    questions: list[str]


@pytest.mark.parametrize(
    ("model", "tokens", "expected"),
    [
        ("gpt-4o-mini", (1_000_000, 0), 0.15),
        ("gpt-4o-mini", (2_000, 1_000), (2_000 * 0.15 + 1_000 * 0.60) / 1e6),
        ("gpt-4o-mini-2024-07-18", (0, 1_000_000), 0.60),  # dated snapshot: prefix price
        ("claude-haiku-4-5", (1_000, 1_000), (1_000 * 1.0 + 1_000 * 5.0) / 1e6),
        ("offline-rules-v1", (5_000, 5_000), 0.0),
        ("some-local-llama", (5_000, 5_000), 0.0),  # unpriced (a local server): free
    ],
)
def test_cost_from_usage_and_price_table(model, tokens, expected):
    usage = Usage(input_tokens=tokens[0], output_tokens=tokens[1])
    assert cost_usd(model, usage, DEFAULT_PRICES) == pytest.approx(expected)


def test_ledger_persists_and_totals_by_tenant_and_month(tmp_path):
    clock = Clock()
    path = tmp_path / "usage.sqlite"
    ledger = UsageLedger(path, clock=clock)
    for tenant, tokens in [("district-a", 100), ("district-a", 50), ("district-b", 7)]:
        ledger.record(
            tenant=tenant,
            provider="openai",
            model="gpt-4o-mini",
            prompt_id="q@v1",
            usage=Usage(input_tokens=tokens, output_tokens=tokens),
            cost_usd=0.001,
            student_id="stu-9f2",
        )
    assert ledger.tokens_this_month("district-a") == 300
    ledger.close()

    reopened = UsageLedger(path, clock=clock)
    assert reopened.tokens_this_month("district-a") == 300
    assert reopened.summary("district-b")["calls"] == 1
    row = reopened.rows("district-a")[0]
    assert {row["provider"], row["model"], row["student_id"]} == {
        "openai",
        "gpt-4o-mini",
        "stu-9f2",
    }
    clock.now += 40 * 24 * 3600  # next month: a fresh budget
    assert reopened.tokens_this_month("district-a") == 0
    reopened.close()
    cols = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(llm_usage)")}
    assert not cols & {"text", "prompt", "messages", "content"}  # counts only, never text


def test_budget_refuses_politely_once_spent(settings_for, tmp_path):
    ledger = UsageLedger(tmp_path / "u.sqlite")
    limits = TenantLimits(settings_for(tenant_token_budget=1_000), ledger)
    limits.check_budget("district-a")
    ledger.record(
        tenant="district-a",
        provider="openai",
        model="gpt-4o-mini",
        prompt_id="q@v1",
        usage=Usage(input_tokens=600, output_tokens=400),
        cost_usd=0.0,
    )
    with pytest.raises(BudgetExceeded) as info:
        limits.check_budget("district-a")
    assert info.value.status == 429 and "teacher" in info.value.message
    limits.check_budget("district-b")  # other tenants are unaffected
    assert limits.remaining("district-a") == 0


def test_rate_limit_is_a_moving_window_per_tenant(settings_for, tmp_path):
    limits = TenantLimits(
        settings_for(tenant_model_calls_per_minute=3), UsageLedger(tmp_path / "u.sqlite")
    )
    for _ in range(3):
        limits.admit("district-a")
    with pytest.raises(RateLimited) as info:
        limits.admit("district-a")
    assert 0 < info.value.retry_after <= 60  # the oldest call leaves the window by then
    limits.admit("district-b")


def _req(**kw) -> LLMRequest:
    msgs = [ChatMessage(role="user", content="Write 3 questions about <PERSON_1>'s passage.")]
    base = {"task": "questions", "messages": msgs, "prompt_id": "questions@v2", "cacheable": True}
    return LLMRequest(**(base | kw))


def test_cache_key_covers_what_shapes_the_answer():
    chain = [("openai", "gpt-4o-mini"), ("offline", "offline-rules-v1")]
    key = cache_key(_req(), chain)
    assert key == cache_key(_req(), chain)
    assert key != cache_key(_req(), chain[1:])
    assert key != cache_key(_req(prompt_id="questions@v3"), chain)
    assert key != cache_key(_req(tenant="district-b"), chain)
    assert key != cache_key(_req(variables={"count": 4}), chain)
    assert key != cache_key(_req(output_schema=QuestionSet), chain)


def test_cache_round_trip_with_parsed_output_and_ttl(tmp_path):
    clock = Clock()
    cache = ResponseCache(tmp_path / "c.sqlite", ttl_s=60, clock=clock)
    parsed = QuestionSet(questions=["Who is Tobias?"])
    result = LLMResult(
        text=parsed.model_dump_json(),
        parsed=parsed,
        provider="openai",
        model="gpt-4o-mini",
        usage=Usage(input_tokens=10, output_tokens=5),
    )
    cache.put("k", result)
    hit = cache.get("k", QuestionSet)
    assert hit is not None and hit.parsed == parsed and hit.provider == "openai"
    assert cache.get("missing") is None
    clock.now += 61
    assert cache.get("k", QuestionSet) is None


def test_the_monthly_total_is_read_once_a_while_and_own_calls_count_at_once(tmp_path, monkeypatch):
    from readloom.llm import usage as usage_mod

    def spend(ledger: UsageLedger, tokens: int) -> None:
        ledger.record(
            tenant="district-a", provider="openai", model="gpt-4o-mini", prompt_id="q@v1",
            usage=Usage(input_tokens=tokens, output_tokens=0), cost_usd=0.0,
        )  # fmt: skip

    here = UsageLedger(tmp_path / "u.sqlite")  # this worker
    other = UsageLedger(tmp_path / "u.sqlite")  # another worker on the same database
    assert here.tokens_this_month("district-a") == 0
    spend(other, 1_000)
    spend(here, 10)
    # within the window: this worker's own call is counted, the other's not yet
    assert here.tokens_this_month("district-a") == 10
    monkeypatch.setattr(usage_mod, "MONTH_TOTAL_TTL_S", 0.0)  # the window has passed
    assert here.tokens_this_month("district-a") == 1_010
    assert other.tokens_this_month("district-a") == 1_010
    here.close()
    other.close()
