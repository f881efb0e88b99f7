"""Passages as a hostile district would attack them: pasted text read across tenants, an
ownerless passage left by a crash, a retry after one, an id taken over, publishing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from apitest_support import World, assert_problem
from security_support import PASTED, PASTED_VALUES, leaked
from sqlalchemy import select

from readloom.retrieval.models import Passage
from readloom.storage.db import Database
from readloom.storage.models import TenantPassage

STORY = (
    "The little boat rocked on the grey water while the gulls cried above the harbour. "
    "Nell pulled the rope tight and watched the clouds roll in from the sea. Her uncle said "
    "the storm would pass by morning, but the wind grew louder all night long."
)


def _rows(server, passage_id: str) -> list[TenantPassage]:
    async def read() -> list[TenantPassage]:
        db = Database(server.settings)
        try:
            async with db.reader() as s:
                q = select(TenantPassage).where(TenantPassage.passage_id == passage_id)
                return list((await s.execute(q)).scalars())
        finally:
            await db.dispose()

    return asyncio.run(read())


def _claim(server, passage_id: str, tenant: str) -> None:
    """What a server killed after the claim (and after Chroma's write) leaves behind."""

    async def write() -> None:
        from readloom.api.auth import ensure_tenant

        db = Database(server.settings)
        try:
            async with db.writer() as s:
                await ensure_tenant(s, tenant)
                s.add(TenantPassage(passage_id=passage_id, tenant_id=tenant, ready=False))
        finally:
            await db.dispose()

    asyncio.run(write())


def _reads(world: World, passage_id: str) -> dict[str, int]:
    out = {}
    for role, client in world.clients().items():
        out[role] = client.get(f"/v1/passages/{passage_id}").status_code
        listed = client.get("/v1/passages", params={"limit": 1000}).json()["items"]
        if any(p["passage_id"] == passage_id for p in listed):
            out[role + ":listed"] = 1
    return out


def test_pasted_text_belongs_to_the_teacher_and_their_classes(
    district_a: World, district_b: World, provider
):
    provider.requests.clear()
    r = district_a.teacher.post("/v1/questions", json={"text": PASTED, "count": 2})
    assert r.status_code == 200, r.text
    pid = r.json()["passage_id"]
    # district b, every role: no read, no list, no session, no questions
    for role, client in district_b.clients().items():
        assert client.get(f"/v1/passages/{pid}").status_code == 404, role
        listed = client.get("/v1/passages", params={"limit": 1000}).json()["items"]
        assert pid not in {p["passage_id"] for p in listed}, role
        if role in ("admin", "partner"):
            body = {"grade": 4, "passage_id": pid, "student_id": "s1"}
            r = client.post("/v1/sessions", json=body)
            assert r.status_code == 404, (role, r.text)
        if role in ("admin", "partner", "teacher", "other_teacher"):
            r = client.post("/v1/questions", json={"passage_id": pid, "count": 1})
            assert r.status_code == 404, (role, r.text)
    # district a: the teacher, their student, the admin and partner; not another teacher
    # or a student of another class
    seen = {
        role: c.get(f"/v1/passages/{pid}").status_code for role, c in district_a.clients().items()
    }
    assert seen == {
        "admin": 200, "partner": 200, "teacher": 200, "other_teacher": 404,
        "student": 200, "other_student": 404, "stranger": 404,
    }  # fmt: skip
    # and the provider never saw the child's data
    bodies = provider.raw_bodies()
    assert bodies, "the provider should have been asked"
    assert leaked(PASTED_VALUES, bodies) == []


def test_same_text_pasted_by_two_districts_gets_two_private_passages(
    district_a: World, district_b: World
):
    a = district_a.teacher.post("/v1/questions", json={"text": STORY, "count": 1})
    b = district_b.teacher.post("/v1/questions", json={"text": STORY, "count": 1})
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert a.json()["passage_id"] != b.json()["passage_id"]
    assert district_b.teacher.get(f"/v1/passages/{a.json()['passage_id']}").status_code == 404


def test_ownerless_passage_is_visible_to_nobody(services, district_a: World, district_b: World):
    pid = f"orphan-{uuid.uuid4().hex[:8]}"
    services.store.ingest_passages([Passage(passage_id=pid, title="Orphan", text=STORY, grade=4)])
    for world in (district_a, district_b):
        assert _reads(world, pid) == {role: 404 for role in world.clients()}


def test_half_written_passage_is_invisible_and_the_retry_succeeds(
    server, services, district_a: World, district_b: World
):
    pid = f"crash-{uuid.uuid4().hex[:8]}"
    _claim(server, pid, district_a.tenant)
    services.store.ingest_passages([Passage(passage_id=pid, title="Half", text=STORY, grade=4)])
    for world in (district_a, district_b):
        assert _reads(world, pid) == {role: 404 for role in world.clients()}
    body = {"passages": [{"passage_id": pid, "title": "Half", "text": STORY, "grade": 4}]}
    key = {"Idempotency-Key": f"k-{pid}"}
    taken = district_b.teacher.post("/v1/passages", json=body, headers=key)
    assert_problem(taken, 409)
    r = district_a.teacher.post("/v1/passages", json=body, headers=key)
    assert r.status_code == 201, r.text
    assert district_a.student.get(f"/v1/passages/{pid}").status_code == 200
    assert district_b.admin.get(f"/v1/passages/{pid}").status_code == 404
    again = district_a.teacher.post("/v1/passages", json=body, headers=key)
    assert again.status_code == 201  # the same key replays
    rows = _rows(server, pid)
    assert [(r.tenant_id, r.ready) for r in rows] == [(district_a.tenant, True)]


@pytest.mark.parametrize("shipped", ["lighthouse-keeper", "how-seeds-travel"])
def test_shipped_ids_cannot_be_taken_over(district_a: World, shipped):
    body = {"passages": [{"passage_id": shipped, "title": "Mine", "text": STORY, "grade": 4}]}
    assert_problem(district_a.admin.post("/v1/passages", json=body), 409)
    assert district_a.student.get(f"/v1/passages/{shipped}").status_code == 200


def test_only_an_admin_publishes_and_published_is_shared(district_a: World, district_b: World):
    pid = f"pub-{uuid.uuid4().hex[:8]}"
    body = {"passages": [{"passage_id": pid, "title": "Harbour", "text": STORY, "grade": 4}]}
    for role in ("teacher", "partner"):
        r = getattr(district_a, role).post("/v1/passages", json=body, params={"publish": "true"})
        assert_problem(r, 403)
    r = district_a.admin.post("/v1/passages", json=body, params={"publish": "true"})
    assert r.status_code == 201, r.text
    assert district_b.student.get(f"/v1/passages/{pid}").status_code == 200
    tenant_only = f"own-{uuid.uuid4().hex[:8]}"
    body["passages"][0]["passage_id"] = tenant_only
    assert district_a.teacher.post("/v1/passages", json=body).status_code == 201
    assert district_a.other_student.get(f"/v1/passages/{tenant_only}").status_code == 200
    assert _reads(district_b, tenant_only) == {role: 404 for role in district_b.clients()}


def test_cli_questions_from_a_file_is_not_ingest(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from readloom.cli import main

    monkeypatch.setenv("READLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("READLOOM_PROVIDERS", "offline")
    story = tmp_path / "essay.txt"
    story.write_text(STORY, encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(main, ["questions", "--file", str(story), "--format", "json"])
    assert r.exit_code == 0, r.output
    listed = runner.invoke(main, ["passages", "--format", "json"])
    assert "Nell" not in listed.output and "essay" not in listed.output
    kept = runner.invoke(main, ["questions", "--file", str(story), "--keep", "--format", "json"])
    assert kept.exit_code == 0, kept.output
    listed = runner.invoke(main, ["passages", "--format", "json"])
    assert "essay" in listed.output
