"""Every store lives in the one database: on Postgres, READLOOM_HOME holds no database
file; on either backend the audit log is append-only in the database itself."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from apitest_support import fresh_postgres_database  # noqa: E402

from readloom.api.lti.store import LaunchStore  # noqa: E402
from readloom.guardrails.audit import AuditLog  # noqa: E402
from readloom.guardrails.vault import Vault  # noqa: E402
from readloom.llm.base import LLMResult, Usage  # noqa: E402
from readloom.llm.cache import ResponseCache  # noqa: E402
from readloom.llm.usage import UsageLedger  # noqa: E402
from readloom.settings import Settings  # noqa: E402
from readloom.storage.checkpoints import open_checkpointer  # noqa: E402
from readloom.storage.db import sync_engine  # noqa: E402
from readloom.tools.mastery import MasteryStore  # noqa: E402

PG_URL = os.environ.get("READLOOM_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    not PG_URL, reason="READLOOM_TEST_POSTGRES_URL is not set (run: eval \"$(bash .ci/postgres.sh)\")"
))]  # fmt: skip


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(home=tmp_path / "home")
        return
    assert PG_URL
    with fresh_postgres_database(PG_URL) as url:
        yield Settings(home=tmp_path / "home", database_url=url)


def _use_every_store(settings: Settings) -> None:
    UsageLedger(settings).record(
        tenant="t1", provider="offline", model="m", prompt_id="p@v1",
        usage=Usage(input_tokens=3, output_tokens=4), cost_usd=0.0, student_id="t1/s1",
    )  # fmt: skip
    ResponseCache(settings, ttl_s=60).put(
        "k" * 64, LLMResult(text="x", provider="openai", model="m", usage=Usage())
    )
    audit = AuditLog(settings)
    audit.record("redaction", tenant="t1", role="student", session_id="s1", guard="pii")
    audit.queue_alert(tenant="t1", session_id="s1", student_id="t1/s1", severity="high",
                      kind="self_harm")  # fmt: skip
    vault = Vault(settings)
    assert vault.pseudonym("s1", "PERSON", "Maria Lopez").token == "<PERSON_1>"
    vault.link_session("s1", "t1/s1")
    MasteryStore(settings).record("t1/s1", "ask_answer_questions", True, event_key="s1:0")
    lti = LaunchStore(settings)
    lti.add_key(key_id="k1", tenant="t1", role="student", source="demo", ttl_s=60)

    async def checkpoint() -> None:
        async with open_checkpointer(settings) as saver:
            from langgraph.checkpoint.base import empty_checkpoint

            cfg = {"configurable": {"thread_id": "s1", "checkpoint_ns": ""}}
            await saver.aput(cfg, empty_checkpoint(), {}, {})

    asyncio.run(checkpoint())


def _counts(settings: Settings) -> dict[str, int]:
    tables = [
        "llm_usage", "llm_cache", "audit_events", "alerts", "vault_pseudonyms",
        "vault_session_owners", "mastery_estimates", "mastery_responses", "lti_page_keys",
        "checkpoints",
    ]  # fmt: skip
    engine = sync_engine(settings)
    try:
        with engine.connect() as conn:
            return {
                t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables
            }
    finally:
        engine.dispose()


def test_every_store_writes_to_the_one_database(settings: Settings) -> None:
    _use_every_store(settings)
    counts = _counts(settings)
    assert all(n >= 1 for n in counts.values()), counts
    files = sorted(p.name for p in settings.home.rglob("*") if p.is_file())
    databases = [f for f in files if ".sqlite" in f or f.endswith((".db", "-wal", "-shm"))]
    if settings.database_url:  # Postgres: not one database file under READLOOM_HOME
        assert databases == []
    else:
        assert {f.split("-")[0] for f in databases} == {"readloom.sqlite"}


def test_the_audit_log_is_append_only_in_the_database(settings: Settings) -> None:
    audit = AuditLog(settings)
    audit.record("redaction", tenant="t1", role="student", session_id="s1", guard="pii")
    audit.queue_alert(tenant="t1", session_id="s1", student_id="t1/s1", severity="high",
                      kind="self_harm")  # fmt: skip
    engine = sync_engine(settings)
    refused = [
        "UPDATE audit_events SET tenant = 't2'",
        "DELETE FROM audit_events",
        "DELETE FROM alerts",
        "UPDATE alerts SET severity = 'low'",
    ]
    if settings.database_url:
        refused += ["TRUNCATE audit_events", "TRUNCATE alerts"]
    try:
        for sql in refused:
            with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
                conn.execute(sa.text(sql))
        with engine.begin() as conn:  # what may change: an alert's status
            conn.execute(sa.text("UPDATE alerts SET status = 'acknowledged'"))
    finally:
        engine.dispose()
    assert audit.erase_sessions(["s1"], tenant="t1") == {"audit_events": 2, "alerts": 1}
    assert [e.kind for e in audit.events()] == ["ferpa_erasure"]
