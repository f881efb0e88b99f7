"""Who may see what: every role against every kind of resource, plus bad keys.

World: teacher t1 teaches s1 and s2; teacher t2 teaches s3 ("other_student");
"stranger" is an admin of another tenant. Out of reach is a 404 (existence is not
revealed); a role that may never use an operation is a 403.
"""

from __future__ import annotations

import pytest
from apitest_support import World, assert_problem

ROLES = ["admin", "partner", "teacher", "other_teacher", "student", "other_student", "stranger"]


def _s1_session(w: World) -> str:
    r = w.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": w.passage_id}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


# expected status per role, for resources belonging to student s1
MATRIX = {
    "read_session": {
        "admin": 200, "partner": 200, "teacher": 200, "other_teacher": 404,
        "student": 200, "other_student": 404, "stranger": 404,
    },
    "read_history": {
        "admin": 200, "partner": 200, "teacher": 200, "other_teacher": 404,
        "student": 200, "other_student": 404, "stranger": 404,
    },
    "post_message": {
        "admin": 200, "partner": 200, "teacher": 403, "other_teacher": 403,
        "student": 200, "other_student": 404, "stranger": 404,
    },
    "mastery": {
        "admin": 200, "partner": 200, "teacher": 200, "other_teacher": 404,
        "student": 200, "other_student": 404, "stranger": 200,
    },
    "graded_responses": {
        "admin": 200, "partner": 200, "teacher": 200, "other_teacher": 404,
        "student": 200, "other_student": 404, "stranger": 200,
    },
    "export": {
        "admin": 200, "partner": 200, "teacher": 403, "other_teacher": 403,
        "student": 403, "other_student": 403, "stranger": 404,
    },
    "post_graded": {
        "admin": 201, "partner": 201, "teacher": 403, "other_teacher": 403,
        "student": 403, "other_student": 403, "stranger": 201,
    },
    "register_webhook": {
        "admin": 201, "partner": 201, "teacher": 403, "other_teacher": 403,
        "student": 403, "other_student": 403, "stranger": 201,
    },
    "question_generation": {
        "admin": 200, "partner": 200, "teacher": 200, "other_teacher": 200,
        "student": 403, "other_student": 403, "stranger": 200,
    },
    "ingest_passage": {
        "admin": 201, "partner": 201, "teacher": 201, "other_teacher": 201,
        "student": 403, "other_student": 403, "stranger": 201,
    },
    "alerts": {
        "admin": 200, "partner": 200, "teacher": 200, "other_teacher": 200,
        "student": 403, "other_student": 403, "stranger": 200,
    },
    "xapi": {
        "admin": 200, "partner": 200, "teacher": 200, "other_teacher": 200,
        "student": 403, "other_student": 403, "stranger": 200,
    },
    "mint_admin_key": {
        "admin": 201, "partner": 403, "teacher": 403, "other_teacher": 403,
        "student": 403, "other_student": 403, "stranger": 201,
    },
}  # fmt: skip
# A stranger (another tenant's admin) reading s1's mastery sees *their own* tenant's
# (empty) student s1: pseudonyms are per tenant, and nothing of ours leaks (checked below).


def _call(w: World, action: str, role: str):  # noqa: C901 - one table of calls
    c = w.clients()[role]
    sid = _s1_session(w)
    match action:
        case "read_session":
            return c.get(f"/v1/sessions/{sid}")
        case "read_history":
            return c.get(f"/v1/sessions/{sid}/messages")
        case "post_message":
            return c.post(f"/v1/sessions/{sid}/messages", json={"text": "Who is the hero?"})
        case "mastery":
            return c.get("/v1/students/s1/mastery")
        case "graded_responses":
            return c.get("/v1/students/s1/graded-responses")
        case "export":
            return c.get("/v1/students/s1/export")
        case "post_graded":
            skill = w.admin.get("/v1/students/s1/mastery").json()["skills"]
            return c.post(
                "/v1/students/s1/graded-responses",
                json={"skill": skill[0]["skill"] if skill else _any_skill(w), "correct": True},
            )
        case "register_webhook":
            return c.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        case "question_generation":
            return c.post("/v1/questions", json={"passage_id": w.passage_id, "count": 2})
        case "ingest_passage":
            return c.post(
                "/v1/passages?passage_id=p-" + role + w.tenant + "&title=T&grade=3",
                content=("A small dog ran to the park. " * 10).encode(),
                headers={"content-type": "text/plain"},
            )
        case "alerts":
            return c.get("/v1/alerts")
        case "xapi":
            return c.get("/v1/xapi/statements")
        case "mint_admin_key":
            return c.post("/v1/keys", json={"role": "admin"})
    raise AssertionError(action)


def _any_skill(w: World) -> str:
    from readloom.tools.prerequisites import SkillGraph

    return SkillGraph.load(w.server.settings.skills_path).skills[0].id


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(MATRIX))
def test_auth_matrix(world: World, action: str, role: str) -> None:
    r = _call(world, action, role)
    expected = MATRIX[action][role]
    if expected >= 400:
        assert_problem(r, expected)
    else:
        assert r.status_code == expected, r.text


def test_stranger_never_sees_our_rows(world: World) -> None:
    _s1_session(world)
    assert world.stranger.get("/v1/sessions").json()["items"] == []
    assert world.stranger.get("/v1/students").json()["items"] == []
    assert world.stranger.get("/v1/classes").json()["items"] == []
    assert world.stranger.get("/v1/xapi/statements").json()["statements"] == []


def test_teacher_sees_only_their_classes_students(world: World) -> None:
    ids = {s["id"] for s in world.teacher.get("/v1/students").json()["items"]}
    assert ids == {"s1", "s2"}
    classes = world.teacher.get("/v1/classes").json()["items"]
    assert [c["id"] for c in classes] == [world.class_id]
    assert_problem(world.other_teacher.get(f"/v1/classes/{world.class_id}"), 404)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-key", "Bearer rlk_00000000_" + "x" * 43, "Basic dXNlcjpwYXNz"],
)
def test_missing_or_bad_key_is_401(world: World, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    with world.server.client() as c:
        r = c.get("/v1/sessions", headers=headers)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_revoked_key_stops_working(world: World) -> None:
    r = world.partner.post("/v1/keys", json={"role": "student", "subject": "s9"})
    key, key_id = r.json()["key"], r.json()["id"]
    assert r.json()["prefix"] == key[:12]
    with world.server.client(key) as c:
        assert c.get("/v1/sessions").status_code == 200
        assert world.partner.delete(f"/v1/keys/{key_id}").status_code == 204
        assert_problem(c.get("/v1/sessions"), 401)
    listed = {k["id"]: k for k in world.admin.get("/v1/keys").json()["items"]}
    assert listed[key_id]["revoked"] is True
    assert "key" not in listed[key_id] and "key_hash" not in listed[key_id]


def test_student_and_teacher_keys_need_a_subject(world: World) -> None:
    assert_problem(world.partner.post("/v1/keys", json={"role": "student"}), 422)
