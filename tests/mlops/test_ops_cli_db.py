"""The database paths of the operator commands: experiment create/report from the CLI,
and monitoring windows read from stored messages and graded responses."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from readloom.cli import main
from readloom.mlops import experiments, monitor
from readloom.settings import get_settings
from readloom.storage.db import Database, migrate
from readloom.storage.models import Message, Tenant, TutoringSession
from readloom.tools.mastery import MasteryStore


def _seed(settings) -> None:
    async def go() -> None:
        db = Database(settings)
        try:
            async with db.writer() as s:
                s.add(Tenant(id="d7", home_page="https://d7.example.org"))
                await s.flush()
                s.add(TutoringSession(id="sess1", tenant_id="d7", student_id="s1", grade=4))
                await s.flush()
                for i in range(3):
                    s.add(Message(session_id="sess1", seq=i + 1, role="student",
                                  text=f"my name is <PERSON_1> and the fox ran {i}",
                                  reply="What did the fox do next?",
                                  meta={"move": "hint", "provider": "offline"}))  # fmt: skip
        finally:
            await db.dispose()

    asyncio.run(go())


def test_experiment_create_and_report_from_the_cli() -> None:
    settings = get_settings()
    migrate(settings)
    _seed(settings)
    runner = CliRunner()
    res = runner.invoke(main, ["experiment", "create", "--tenant", "d7", "--name", "prompts",
                               "--factor", "prompt", "--arm", "control",
                               "--arm", 'v2={"prompt": "tutor_reply@v2"}', "--format", "json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    exp_id = json.loads(res.stdout)["id"]
    bad = runner.invoke(main, ["experiment", "create", "--tenant", "nope", "--name", "x",
                               "--factor", "prompt", "--arm", "a", "--arm", "b"])  # fmt: skip
    assert bad.exit_code != 0 and "unknown tenant" in bad.output

    async def outcomes() -> None:
        db = Database(settings)
        try:
            async with db.writer() as s:
                for i in range(30):
                    await experiments.record(
                        s, "d7", exp_id, f"k{i}", "next_attempt_correct", i % 2
                    )
        finally:
            await db.dispose()

    asyncio.run(outcomes())
    res = runner.invoke(main, ["experiment", "report", exp_id, "--format", "json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    primary = report["metrics"]["next_attempt_correct"]
    assert sum(primary["students"].values()) == 30
    assert not primary["horizon_reached"] and "no verdict" in report["verdict"]
    assert primary["comparisons"][0]["method"] == "barnard_exact"


def test_monitor_events_come_from_stored_messages_and_graded_responses() -> None:
    settings = get_settings()
    migrate(settings)
    _seed(settings)
    store = MasteryStore(settings)
    try:
        for c in (1, 0, 1):
            store.record("d7/s1", "story_elements", c)
        start = datetime.now(UTC) - timedelta(hours=1)
        end = datetime.now(UTC) + timedelta(hours=1)
        events = monitor.events_from_db(settings, start, end, tenant="d7", store=store)
        other = monitor.events_from_db(settings, start, end, tenant="d8", store=store)
    finally:
        store.close()
    kinds = [e["kind"] for e in events]
    assert kinds.count("message") == 3 and kinds.count("prediction") == 3
    assert other == []
    window = monitor.Window().extend(events)
    assert window.rate["pii_rate"] == [True, True, True]
    assert window.rate["offline_fallback_rate"] == [True, True, True]
    assert all(0 < p < 1 for p in window.pred[0])
