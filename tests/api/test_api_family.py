"""The family summary: a signed, expiring, revocable link a teacher makes for one
student, and a page that never shows another child's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apitest_support import World, assert_problem
from sqlalchemy import update
from sqlalchemy.orm import Session

from readloom.service import family
from readloom.storage.db import sync_engine
from readloom.storage.models import Message, TutoringSession, new_id
from readloom.storage.models_insights import FamilyLink

MINE, THEIRS = "the-snow-day-sled", "how-volcanoes-form"


def _practice(world: World, student: str, passage: str, answers: str) -> None:
    """A finished tutoring session of ``student``, as the tutoring path stores it."""
    engine = sync_engine(world.server.settings)
    at = datetime.now(UTC) - timedelta(days=1)
    sid = new_id("ses")
    try:
        with Session(engine) as s, s.begin():
            s.add(TutoringSession(id=sid, tenant_id=world.tenant, student_id=student, grade=4,
                                  passage_id=passage, created_at=at))  # fmt: skip
            s.flush()
            for i, a in enumerate(answers, start=1):
                grade = {"correct": a == "1", "score": float(a == "1"), "skill": "sequence_events"}
                s.add(Message(session_id=sid, seq=i, role="student", text="[redacted]",
                              reply="[redacted]", meta={"move": "probe", "grade_result": grade},
                              created_at=at + timedelta(minutes=2 * i)))  # fmt: skip
    finally:
        engine.dispose()


@pytest.fixture
def links(world: World) -> dict[str, str]:
    _practice(world, "s1", MINE, "01111")
    _practice(world, "s2", THEIRS, "0000")
    made = {}
    for student in ("s1", "s2"):
        r = world.teacher.post(
            f"/v1/classes/{world.class_id}/students/{student}/family-links", json={"days": 7}
        )
        assert r.status_code == 201, r.text
        made[student] = r.json()
    return made


def _path(url: str) -> str:
    return url[url.index("/family/") :]


def test_the_page_shows_this_child_only(world: World, links: dict) -> None:
    mine = world.teacher.get(_path(links["s1"]["url"]))
    assert mine.status_code == 200, mine.text
    page = mine.text
    assert "For s1" in page and "The Snow Day Sled" in page
    assert "s2" not in page and "Volcano" not in page  # the classmate's name and reading
    assert "put events in order" in page.lower()  # a skill growing, in plain words
    assert 'name="viewport"' in page and "noindex" in mine.headers["x-robots-tag"]
    assert mine.headers["referrer-policy"] == "no-referrer"
    theirs = world.teacher.get(_path(links["s2"]["url"])).text
    assert "For s2" in theirs and "s1" not in theirs and "Snow Day" not in theirs


def test_tampered_links_open_nothing(world: World, links: dict) -> None:
    token = _path(links["s1"]["url"]).removeprefix("/family/")
    link_id, exp, sig = token.split(".")
    other_id = links["s2"]["id"]
    for bad in (
        f"{other_id}.{exp}.{sig}",  # s1's signature on s2's link
        f"{link_id}.{int(exp) + 86400 * 365}.{sig}",  # a longer life
        f"{link_id}.{exp}.{sig[:-2]}AA",
        "garbage",
    ):
        r = world.teacher.get("/family/" + bad)
        assert r.status_code == 404 and "not valid" in r.text


def test_links_expire_and_can_be_withdrawn(world: World, links: dict) -> None:
    s1, s2 = links["s1"], links["s2"]
    assert_problem(world.other_teacher.delete(f"/v1/family-links/{s1['id']}"), 404)
    assert_problem(world.stranger.delete(f"/v1/family-links/{s1['id']}"), 404)
    r = world.teacher.delete(f"/v1/family-links/{s1['id']}")
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert world.teacher.get(_path(s1["url"])).status_code == 404
    assert world.teacher.delete(f"/v1/family-links/{s1['id']}").status_code == 200  # idempotent

    engine = sync_engine(world.server.settings)
    try:
        with Session(engine) as s, s.begin():
            s.execute(update(FamilyLink).where(FamilyLink.id == s2["id"])
                      .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
    finally:
        engine.dispose()
    assert world.teacher.get(_path(s2["url"])).status_code == 404
    token = _path(s2["url"]).removeprefix("/family/")
    expires = datetime.fromisoformat(s2["expires_at"])
    assert family.verify(world.server.settings, token, now=expires - timedelta(seconds=1))
    assert family.verify(world.server.settings, token, now=expires) is None

    listed = world.teacher.get(f"/v1/classes/{world.class_id}/students/s1/family-links").json()
    assert [x["id"] for x in listed] == [s1["id"]] and listed[0]["url"] is None


def test_who_may_make_links_and_read_summaries(world: World, links: dict) -> None:
    base = f"/v1/classes/{world.class_id}/students"
    assert_problem(world.teacher.post(f"{base}/s3/family-links", json={}), 404)  # not in the class
    assert_problem(world.other_teacher.post(f"{base}/s1/family-links", json={}), 404)
    assert_problem(world.stranger.post(f"{base}/s1/family-links", json={}), 404)
    assert_problem(world.student.post(f"{base}/s1/family-links", json={}), 403)
    assert_problem(world.teacher.post(f"{base}/s1/family-links", json={"days": 0}), 422)
    lms = world.partner.get(f"{base}/s1/family-summary")
    assert lms.status_code == 200, lms.text
    body = lms.json()
    assert body["student_id"] == "s1" and body["passages"] == ["The Snow Day Sled"]
    assert body["practise"]["tip"] and body["sessions"] == 1
    assert_problem(world.student.get(f"{base}/s1/family-summary"), 403)
    assert_problem(world.other_teacher.get(f"{base}/s1/family-summary"), 404)


def test_erasing_a_student_erases_their_links_and_snapshots(world: World, links: dict) -> None:
    assert world.teacher.get(f"/v1/classes/{world.class_id}/insights").status_code == 200
    r = world.partner.delete("/v1/students/s1")
    assert r.status_code == 200, r.text
    deleted = r.json()["deleted"]
    assert deleted["family_links"] == 1 and deleted["insights_snapshots"] >= 1
    assert world.teacher.get(_path(links["s1"]["url"])).status_code == 404
    assert world.teacher.get(_path(links["s2"]["url"])).status_code == 200
    body = world.teacher.get(f"/v1/classes/{world.class_id}/insights").json()
    assert "s1" not in str(body["inactive"]) + str(body["struggling"])
