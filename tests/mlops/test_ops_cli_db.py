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


def _seed_passages_and_recommendations(settings, *, current_level: float, current_mix: list[str]):
    """Reference window (2-20 days ago): 40 passages ingested around grade 4 and
    recommendations spread over eight passages; current window (the last hour): 40
    passages at ``current_level`` and recommendations drawn from ``current_mix``."""
    from readloom.api.schemas import RecommendationOut
    from readloom.mlops.recommendation_log import log_recommendations
    from readloom.storage.models import TenantPassage
    from readloom.storage.models_catalogue import CatalogueEntry
    from readloom.storage.models_mlops import RecommendationEvent

    now = datetime.now(UTC)

    def entry(pid: str, level: float, when: datetime) -> CatalogueEntry:
        return CatalogueEntry(passage_id=pid, title=pid, grade=4, genre="fiction", source="t",
                              content_hash="x", reading_level=level, updated_at=when)  # fmt: skip

    async def go() -> None:
        db = Database(settings)
        try:
            async with db.writer() as s:
                for i in range(40):
                    ref_at = now - timedelta(days=2 + i % 18)
                    s.add(entry(f"ref{i}", 4.0 + (i % 5) * 0.2, ref_at))
                    s.add(entry(f"cur{i}", current_level + (i % 5) * 0.2, now))
                    s.add(TenantPassage(passage_id=f"ref{i}", tenant_id="d7"))
                    s.add(TenantPassage(passage_id=f"cur{i}", tenant_id="d7"))
                    s.add(RecommendationEvent(tenant_id="d7", passage_id=f"p{i % 8}",
                                              skill_id="story_elements", kind="new",
                                              created_at=ref_at))  # fmt: skip
                recs = [
                    RecommendationOut(
                        student_id=f"s{i}",
                        kind="new",
                        skill_id="story_elements",
                        skill_name="Story elements",
                        strand="literature",
                        mastery=None,
                        passage_id=current_mix[i % len(current_mix)],
                        reason="next",
                        provenance={"policy": "spread@v2"},
                    )  # fmt: skip
                    for i in range(40)
                ]
                assert await log_recommendations(s, "d7", recs) == 40
        finally:
            await db.dispose()

    asyncio.run(go())


def test_monitor_reads_reading_level_and_recommendation_mix_from_the_database() -> None:
    settings = get_settings()
    migrate(settings)
    _seed(settings)
    _seed_passages_and_recommendations(settings, current_level=8.0, current_mix=["p0"])
    res = CliRunner().invoke(main, ["monitor", "--tenant", "d7", "--format", "json"])
    assert res.exit_code == 1, res.output  # crossed a threshold: non-zero for cron/CI
    report = json.loads(res.stdout)
    assert {"passage_grade", "recommended_passage"} <= set(report["drifted"])
    other = CliRunner().invoke(main, ["monitor", "--tenant", "d8", "--format", "json"])
    assert not json.loads(other.stdout)["drifted"]  # another district's rows are not read


def test_monitor_from_the_database_is_quiet_when_nothing_moved() -> None:
    settings = get_settings()
    migrate(settings)
    _seed(settings)
    mix = [f"p{i}" for i in range(8)]
    _seed_passages_and_recommendations(settings, current_level=4.0, current_mix=mix)
    res = CliRunner().invoke(main, ["monitor", "--tenant", "d7", "--format", "json"])
    report = json.loads(res.stdout)
    by = {f["feature"]: f for f in report["features"]}
    assert not by["passage_grade"]["drifted"] and not by["recommended_passage"]["drifted"]
    for name in ("passage_grade", "recommended_passage"):
        assert (by[name]["n_reference"], by[name]["n_current"]) == (40, 40), by[name]
