"""A home written by the release before the one database (an app database at revision
0002 plus one SQLite file per store) upgrades with ``readloom db upgrade`` and loses
nothing: every store reads back what it held, sessions resume, and the files are set aside."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import operator
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, TypedDict

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from langgraph.graph import START, StateGraph

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from apitest_support import fresh_postgres_database  # noqa: E402
from release_stores import SCHEMAS  # noqa: E402

from readloom.settings import Settings, get_settings  # noqa: E402

PG_URL = os.environ.get("READLOOM_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    not PG_URL, reason="READLOOM_TEST_POSTGRES_URL is not set (run: eval \"$(bash .ci/postgres.sh)\")"
))]  # fmt: skip
SID = "sess-1"


class Counter(TypedDict):
    turns: Annotated[list[str], operator.add]


def _graph() -> StateGraph:
    g = StateGraph(Counter)
    g.add_node("say", lambda s: {"turns": [f"reply-{len(s['turns'])}"]})
    g.add_edge(START, "say")
    return g


def _write_release_home(home: Path) -> dict[str, object]:
    """The files as that release wrote them (its schemas, its row formats)."""
    from readloom.guardrails.vault import load_or_create_key

    for name, schema in SCHEMAS.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(home / name)
        db.executescript(schema)
        db.commit()
        db.close()
    key = load_or_create_key(home)
    mac = hmac.new(key, b"readloom-vault-lookup", hashlib.sha256).digest()

    def lookup(label: str, norm: str) -> str:
        return hmac.new(mac, f"{SID}\x00{label}\x00{norm}".encode(), hashlib.sha256).hexdigest()

    def run(name: str, sql: str, *rows: tuple) -> None:
        db = sqlite3.connect(home / name)
        db.executemany(sql, rows)
        db.commit()
        db.close()

    now = time.time()
    month = time.strftime("%Y-%m", time.gmtime(now))
    run(
        "llm_usage.sqlite",
        "INSERT INTO llm_usage (ts, month, tenant, provider, model, prompt_id,"
        " input_tokens, output_tokens, cost_usd, cached, student_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (now, month, "t1", "openai", "gpt-4o-mini", "tutor@v1", 100, 20, 0.00003, 0, "t1/s1"),
        (now, month, "t1", "openai", "gpt-4o-mini", "tutor@v1", 50, 10, 0.00001, 1, "t1/s2"),
    )
    run(
        "llm_cache.sqlite",
        "INSERT INTO llm_cache (key, created, provider, model, text, parsed,"
        " input_tokens, output_tokens, finish_reason) VALUES (?,?,?,?,?,?,?,?,?)",
        ("c" * 64, now, "openai", "gpt-4o-mini", "cached answer", None, 5, 6, "stop"),
    )
    run(
        "audit.sqlite",
        "INSERT INTO audit_events (at, tenant, role, actor, session, kind, guard,"
        " rule, entities, severity) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            "2026-11-01T10:00:00.000+00:00",
            "t1",
            "student",
            "stu_00000000000000a1",
            SID,
            "redaction",
            "pii",
            None,
            '["PERSON"]',
            None,
        ),
    )
    run(
        "audit.sqlite",
        "INSERT INTO alerts (id, created_at, updated_at, tenant, session, actor,"
        " severity, kind, entities, confidence, status) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            7,
            "2026-11-01T10:00:00.000+00:00",
            "2026-11-01T10:00:00.000+00:00",
            "t1",
            SID,
            "stu_00000000000000a1",
            "high",
            "self_harm",
            "[]",
            0.9,
            "open",
        ),
    )
    fernet = Fernet(key)
    run(
        "vault.sqlite",
        "INSERT INTO pseudonyms (session_id, label, idx, lookup, value) VALUES (?,?,?,?,?)",
        (SID, "PERSON", 1, lookup("PERSON", "maria lopez"), fernet.encrypt(b"Maria Lopez")),
    )
    run(
        "vault.sqlite",
        "INSERT INTO aliases (session_id, lookup, label, idx) VALUES (?,?,?,?)",
        (SID, lookup("PERSON", "maria"), "PERSON", 1),
        (SID, lookup("PERSON", "lopez"), "PERSON", 1),
    )
    run(
        "mastery.sqlite",
        "INSERT INTO mastery (student_id, skill, p, attempts, updated_at) VALUES (?,?,?,?,?)",
        ("t1/s1", "ask_answer_questions", 0.61, 2, now),
    )
    run(
        "mastery.sqlite",
        "INSERT INTO responses (student_id, skill, correct, p_before, p_after,"
        " at) VALUES (?,?,?,?,?,?)",
        ("t1/s1", "ask_answer_questions", 1, 0.3, 0.45, now),
        ("t1/s1", "ask_answer_questions", 1, 0.45, 0.61, now),
    )
    run(
        "lti/launches.sqlite",
        "INSERT INTO page_keys (key_id, tenant, role, source, expires_at,"
        " launch) VALUES (?,?,?,?,?,?)",
        ("pk1", "t1", "student", "lti", now + 3600, json.dumps({"sub": "u1"})),
    )

    async def checkpoints() -> None:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        from readloom.graph import checkpoint_serializer

        async with AsyncSqliteSaver.from_conn_string(str(home / "checkpoints.sqlite")) as saver:
            saver.serde = checkpoint_serializer()
            graph = _graph().compile(checkpointer=saver)
            cfg = {"configurable": {"thread_id": SID}}
            await graph.ainvoke({"turns": ["hello"]}, cfg)
            await graph.ainvoke({"turns": ["again"]}, cfg)

    asyncio.run(checkpoints())
    return {"key": key}


@pytest.fixture(params=BACKENDS)
def release_home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    home = tmp_path / "home"
    home.mkdir()

    def prepare(url: str | None) -> Settings:
        from readloom.storage.db import migrate

        settings = Settings(home=home, database_url=url)
        migrate(settings, "0002")  # the app database as that release left it
        _write_release_home(home)
        return settings

    if request.param == "sqlite":
        yield prepare(None)
        return
    assert PG_URL
    with fresh_postgres_database(PG_URL) as url:
        yield prepare(url)


def test_readloom_db_upgrade_keeps_every_store(release_home: Settings, monkeypatch) -> None:
    from readloom.cli import main
    from readloom.storage.stores import forget_store_dbs

    settings = release_home
    monkeypatch.setenv("READLOOM_HOME", str(settings.home))
    if settings.database_url:
        monkeypatch.setenv("READLOOM_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    forget_store_dbs()
    result = CliRunner().invoke(main, ["db", "upgrade", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["revision"] and sorted(out["legacy_files"]) == sorted(
        [*SCHEMAS, "checkpoints.sqlite"]
    )
    assert out["imported"] == {}  # migrate already imported them; a second pass has nothing

    from readloom.api.lti.store import LaunchStore
    from readloom.guardrails.audit import AuditLog
    from readloom.guardrails.vault import Vault
    from readloom.llm.cache import ResponseCache
    from readloom.llm.usage import UsageLedger
    from readloom.tools.mastery import MasteryStore

    ledger = UsageLedger(settings)
    assert ledger.summary("t1") == {
        "calls": 2, "cached_calls": 1, "input_tokens": 150, "output_tokens": 30,
        "cost_usd": 0.00004,
    }  # fmt: skip
    assert ledger.tokens_this_month("t1") == 180
    hit = ResponseCache(settings, ttl_s=3600).get("c" * 64)
    assert hit is not None and hit.text == "cached answer"
    audit = AuditLog(settings)
    assert [(e.kind, e.session, e.entities) for e in audit.events()] == [
        ("redaction", SID, ("PERSON",))
    ]
    (alert,) = audit.alerts("t1")
    assert (alert.id, alert.kind, alert.severity) == (7, "self_harm", "high")  # ids kept
    vault = Vault(settings)
    assert vault.reveal(SID, "PERSON", 1) == "Maria Lopez"
    assert vault.pseudonym(SID, "PERSON", "maria").token == "<PERSON_1>"  # aliases work
    assert vault.pseudonym(SID, "PERSON", "Sam Lee").token == "<PERSON_2>"
    mastery = MasteryStore(settings)
    assert mastery.get("t1/s1") == {"ask_answer_questions": 0.61}
    assert [e.p_after for e in mastery.history("t1/s1")] == [0.45, 0.61]
    page_key = LaunchStore(settings).get_key("pk1")
    assert page_key is not None and page_key.launch == {"sub": "u1"}
    # new alerts do not collide with the kept ids
    new = audit.queue_alert(tenant="t1", session_id="s9", student_id="t1/s9",
                            severity="medium", kind="bullying")  # fmt: skip
    assert new.id > 7

    async def resume() -> list[str]:
        from readloom.graph import checkpoint_serializer
        from readloom.storage.checkpoints import open_checkpointer

        async with open_checkpointer(settings) as saver:
            saver.serde = checkpoint_serializer()
            graph = _graph().compile(checkpointer=saver)
            state = await graph.ainvoke({"turns": ["third"]}, {"configurable": {"thread_id": SID}})
            return state["turns"]

    assert asyncio.run(resume()) == ["hello", "reply-1", "again", "reply-3", "third", "reply-5"]
    left = sorted(p.name for p in settings.home.rglob("*.sqlite"))
    assert left == ([] if settings.database_url else ["readloom.sqlite"])
    assert (settings.home / "audit.sqlite.imported").exists()  # set aside, not deleted
    get_settings.cache_clear()
