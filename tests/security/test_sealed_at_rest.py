"""A district's text at rest: what a teacher pastes, or a tenant ingests, is stored with
placeholders (Chroma's files and collections, the catalogue, question jobs, idempotency
answers); the teacher still reads the real text and questions with real names; another
district reads nothing; a publish made on one worker counts on another at once."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from apitest_support import Server, World, make_world, start_thread_server
from security_support import leaked
from sqlalchemy import select

from readloom.storage.db import Database
from readloom.storage.models import IdempotencyRecord, QuestionJob

# names the shipped corpus does not use (its files are under the same home)
FIRST = ("Soren", "Bartosz", "Anneliese", "Thaddeus", "Ottoline", "Cosimo")
LAST = ("Nowak", "Tanaka", "Haddad", "Oyelaran", "Quintero", "Kowalczyk")


def essay() -> tuple[str, list[str]]:
    """A pasted essay with a (made-up) child's personal data, unique to one test."""
    n = uuid.uuid4().int
    first, last = FIRST[n % 6], LAST[(n // 6) % 6]
    sid, tag = str(40000 + n % 50000), uuid.uuid4().hex[:6]
    email = f"{first.lower()}.{last.lower()}{tag}@gmail.com"
    text = (
        f"My Winter by {first} {last}, grade 4, Lincoln Elementary, student id {sid}, "
        f"{email}. This winter my family drove to the mountains. We skied every morning and "
        f"my little brother Mateo built a snowman as tall as our dad. At night {first} "
        "looked at the stars and my grandmother told us stories about the old farm and "
        "the river that froze every year."
    )
    return text, [f"{first} {last}", last, sid, email, email.split("@")[0]]


def _files_with(root: Path, values: list[str]) -> dict[str, list[str]]:
    """Every file under ``root`` holding one of ``values`` as a whole word (bytes,
    case-insensitive: a student id inside a longer number or a hex id is not one)."""
    found: dict[str, list[str]] = {}
    needles = [
        (v, re.compile(rb"(?<![0-9a-z])" + re.escape(v.lower().encode()) + rb"(?![0-9a-z])"))
        for v in values
    ]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            hits = [v for v, n in needles if n.search(data)]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def _collections(services: Any, passage_id: str) -> str:
    """Everything Chroma holds for a passage (documents and metadata of every collection)."""
    store = services.store
    parts: list[str] = []
    for coll, where in (
        (store._records, None),
        (store._chunks, {"passage_id": passage_id}),
        (store._sentences, {"passage_id": passage_id}),
    ):
        got = (
            coll.get(ids=[passage_id], include=["documents", "metadatas"])
            if where is None
            else coll.get(where=where, include=["documents", "metadatas"])
        )
        assert got["ids"], f"{coll.name} holds nothing for {passage_id}"
        parts += [str(d) for d in got["documents"] or [] if d]
        parts += [str(m) for m in got["metadatas"] or []]
    return "\n".join(parts)


def _catalogue(home: Path, passage_id: str) -> str:
    conn = sqlite3.connect(f"file:{home / 'readloom.sqlite'}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT * FROM passage_catalogue WHERE passage_id = ?", (passage_id,)
        ).fetchall()
    finally:
        conn.close()
    assert rows, "the catalogue should list the passage"
    return repr(rows)


def _db_rows(server: Server, model: Any, *where: Any) -> list[Any]:
    async def read() -> list[Any]:
        db = Database(server.settings)
        try:
            async with db.reader() as s:
                return list((await s.execute(select(model).where(*where))).scalars())
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_pasted_text_is_stored_with_placeholders_and_read_back_by_its_teacher(
    district_a: World, district_b: World, services, home: Path
):
    text, values = essay()
    key = {"Idempotency-Key": f"paste-{uuid.uuid4().hex}"}
    r = district_a.teacher.post("/v1/questions", json={"text": text, "count": 3}, headers=key)
    assert r.status_code == 200, r.text
    pid = r.json()["passage_id"]
    # at rest: Chroma's collections (documents and metadata), its files, the catalogue, the
    # idempotency answer and every other file under the home hold none of the child's data
    stored = _collections(services, pid)
    assert "<PERSON_" in stored and "<EMAIL_" in stored
    assert leaked(values, stored) == []
    assert leaked(values, _catalogue(home, pid)) == []
    assert _files_with(home, values) == {}
    (rec,) = _db_rows(
        district_a.server, IdempotencyRecord, IdempotencyRecord.key == key["Idempotency-Key"]
    )
    assert set(rec.response) == {"sealed"} and leaked(values, str(rec.response)) == []
    # the teacher (and their student) read the real text; the questions name real people
    for who in (district_a.teacher, district_a.student):
        got = who.get(f"/v1/passages/{pid}")
        assert got.status_code == 200 and got.json()["text"] == text
    questions = r.json()["questions"]
    assert questions, r.text
    shown = " ".join(q["question"] + " " + q["answer"] + " " + q["evidence"] for q in questions)
    assert "<" not in shown
    for q in questions:
        assert q["evidence"] in text, q
    # the replay of the stored answer is the teacher's, decrypted
    again = district_a.teacher.post("/v1/questions", json={"text": text, "count": 3}, headers=key)
    assert again.status_code == 200 and again.json() == r.json()
    # partner and admin read placeholders (guardrails.policy); district b reads nothing
    for who in (district_a.partner, district_a.admin):
        got = who.get(f"/v1/passages/{pid}")
        assert got.status_code == 200 and leaked(values, got.text) == [], got.text
    for role, client in district_b.clients().items():
        assert client.get(f"/v1/passages/{pid}").status_code == 404, role
        listed = client.get("/v1/passages", params={"limit": 1000}).text
        assert pid not in listed and leaked(values, listed) == [], role


def test_questions_use_the_real_names_of_a_pasted_text(district_a: World):
    text, values = essay()
    first = values[0].split()[0]
    r = district_a.teacher.post("/v1/questions", json={"text": text, "count": 5})
    assert r.status_code == 200, r.text
    shown = " ".join(
        q["question"] + " " + q["answer"] + " " + q["evidence"] for q in r.json()["questions"]
    )
    assert first in shown or "Mateo" in shown, shown
    assert "<PERSON_" not in shown


def test_multiple_choice_options_use_the_real_names_too(district_a: World):
    text = (
        "Once upon a time there was a fisherman named Bartosz Nowak who lived by the sea. "
        "Every morning Bartosz Nowak rowed his boat past the rocks. His neighbour Ottoline "
        "Haddad mended nets on the shore. One day Ottoline Haddad found a golden shell in the "
        "sand. When Bartosz Nowak saw the shell, he laughed for joy. Cosimo Tanaka, the old "
        "baker, gave them both a warm loaf of bread."
    )
    r = district_a.teacher.post("/v1/questions", json={"text": text, "count": 6, "choices": True})
    assert r.status_code == 200, r.text
    with_options = [q for q in r.json()["questions"] if q["choices"]]
    assert with_options, r.text
    options = [c for q in with_options for c in q["choices"]]
    assert not [c for c in options if "<PERSON_" in c], options  # never a pseudonym shown
    for q in with_options:
        assert q["choices"].count(q["answer"]) == 1, q  # the answer once, as written
    assert any(n in " ".join(options) for n in ("Bartosz", "Ottoline", "Cosimo")), options


@pytest.mark.parametrize("content", ["json", "text"])
def test_tenant_ingested_passages_are_stored_with_placeholders(
    district_a: World, district_b: World, services, home: Path, content: str
):
    text, values = essay()
    pid = f"own-{uuid.uuid4().hex[:8]}"
    title = f"{values[0]}'s winter"
    if content == "json":
        body = {
            "passage_id": pid, "title": title, "grade": 4, "text": text,
            "characters": [values[0].split()[0], "Mateo"], "topics": [f"{values[0]} at home"],
        }  # fmt: skip
        r = district_a.teacher.post("/v1/passages", json={"passages": [body]})
    else:
        r = district_a.teacher.post(
            "/v1/passages", content=text.encode(), headers={"Content-Type": "text/plain"},
            params={"passage_id": pid, "title": title, "grade": 4},
        )  # fmt: skip
    assert r.status_code == 201, r.text
    assert leaked(values, _collections(services, pid)) == []
    assert leaked(values, _catalogue(home, pid)) == []
    assert _files_with(home, values) == {}
    got = district_a.other_teacher.get(f"/v1/passages/{pid}").json()  # the tenant's library
    assert got["text"] == text and got["title"] == title
    if content == "json":
        assert got["characters"] == [values[0].split()[0], "Mateo"]
    listed = district_a.teacher.get("/v1/passages", params={"limit": 1000}).json()["items"]
    assert title in {p["title"] for p in listed}
    assert district_b.teacher.get(f"/v1/passages/{pid}").status_code == 404
    # a search the tutor makes reads real words at the right offsets of the real text
    (span, *_) = services.store.search("snowman brother", passage_id=pid)
    assert text[span.start : span.end] == span.text


def test_question_job_results_are_stored_redacted(district_a: World, server: Server):
    text, values = essay()
    r = district_a.teacher.post("/v1/questions", json={"text": text, "count": 11})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = district_a.teacher.get(f"/v1/question-jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert job["status"] == "succeeded", job
    (row,) = _db_rows(server, QuestionJob, QuestionJob.id == job_id)
    assert set(row.result) == {"session_id", "redacted"}
    stored = str(row.result)
    assert leaked([*values, "Mateo"], stored) == [], stored
    shown = " ".join(
        q["question"] + " " + q["answer"] + " " + q["evidence"] for q in job["result"]["questions"]
    )
    assert job["result"]["questions"] and "<PERSON_" not in shown, shown
    named = leaked([values[0].split()[0], "Mateo"], shown)
    assert named, shown  # the teacher reads real names, which the row does not hold
    for q in job["result"]["questions"]:
        assert q["evidence"] in text
    # the tenant's partner reads the job with placeholders; another teacher not at all
    partner = district_a.partner.get(f"/v1/question-jobs/{job_id}").json()
    assert leaked(values, str(partner)) == []
    assert district_a.other_teacher.get(f"/v1/question-jobs/{job_id}").status_code == 404


def test_a_publish_on_one_worker_counts_on_another_at_once(
    server: Server, settings, services, district_a: World
):
    """Two app instances (two guardrail suites, one database): the admin publishes on
    the first; the second exempts the story's names without a restart."""
    from readloom.service import build_services

    second_services = build_services(settings)
    ts, base = start_thread_server(settings, second_services)
    try:
        second = Server(base_url=base, settings=settings, backend="sqlite")
        pid = f"pub-{uuid.uuid4().hex[:8]}"
        story = (
            "Emily Carter rowed the little boat across the grey harbour. "
            "The gulls cried above her and the clouds rolled in from the sea. "
            "Emily Carter said the storm would pass by morning, but the wind "
            "grew louder all night long and the boat rocked on the water."
        )
        body = {"passage_id": pid, "title": "Harbour", "grade": 4, "text": story,
                "characters": ["Emily Carter"]}  # fmt: skip
        r = district_a.admin.post("/v1/passages", json={"passages": [body]})
        assert r.status_code == 201, r.text  # the tenant's, not yet published
        assert services.store.is_sealed(pid)
        assert "Carter" not in services.store.get(pid, opened=False).text
        passage = second_services.store.get(pid)
        assert not second_services.guards.allow_list_for(passage)
        r = district_a.admin.post(
            "/v1/passages", json={"passages": [body]}, params={"publish": "true"}
        )
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            passage = second_services.store.get(pid)
            if "Emily Carter" in second_services.guards.allow_list_for(passage):
                break
            time.sleep(0.1)
        assert "Emily Carter" in second_services.guards.allow_list_for(passage)
        # published: stored as the admin reviewed it (no longer sealed), read back exactly
        assert not services.store.is_sealed(pid)
        assert passage.text == story and services.store.get(pid, opened=False).text == story
        # through the second worker's API: a child naming the character keeps the name
        world = make_world(second, f"w-{uuid.uuid4().hex[:8]}")
        try:
            r = world.partner.post("/v1/sessions", json={"grade": 4, "passage_id": pid,
                                                           "student_id": "s1"})  # fmt: skip
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            r = world.student.post(
                f"/v1/sessions/{sid}/messages",
                json={"text": "I think Emily Carter was brave in the storm"},
            )
            assert r.status_code in (200, 201), r.text
            msgs = world.partner.get(f"/v1/sessions/{sid}/messages").json()["items"]
            said = [m["text"] for m in msgs]
            assert said and "Emily Carter" in said[-1], said
        finally:
            world.close()
    finally:
        ts.stop()


def test_tenant_text_stored_by_an_earlier_release_is_sealed_at_start(
    server: Server, settings, services, district_a: World
):
    """The upgrade path: a tenant passage stored as sent (before sealing) is sealed when
    the services start (``service.library.seal_stored``); published ones are left as is."""
    from readloom.api.auth import ensure_tenant
    from readloom.retrieval.models import Passage
    from readloom.service import library
    from readloom.storage.models import TenantPassage

    text, values = essay()
    pid = f"old-{uuid.uuid4().hex[:8]}"
    services.store.ingest_passages(
        [Passage(passage_id=pid, title=f"{values[0]}'s winter", text=text, grade=4)]
    )  # as an earlier release stored it
    assert leaked(values, _collections(services, pid)) != []

    async def own() -> None:
        db = Database(settings)
        try:
            async with db.writer() as s:
                await ensure_tenant(s, district_a.tenant)
                s.add(TenantPassage(passage_id=pid, tenant_id=district_a.tenant, ready=True))
        finally:
            await db.dispose()

    asyncio.run(own())
    assert pid in library.seal_stored(settings, services.store)
    assert leaked(values, _collections(services, pid)) == []
    assert services.store.get(pid).text == text
    assert district_a.teacher.get(f"/v1/passages/{pid}").json()["text"] == text
    assert library.seal_stored(settings, services.store) == []  # once
