"""LTI 1.3 launches from a test LMS (its RSA keys and JWKS made here, served on
127.0.0.1): the right page in the right role, roster provisioning, grade passback over
AGS, and every broken launch refused without a key being issued."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import httpx
import pytest
from lti_platform import USERS
from sqlalchemy import func, select
from test_web_student import send_and_wait
from webtest_support import BROWSER, a11y_report, shot

from readloom.api.lti.context import WebConfig
from readloom.llm.offline.questions import generate_questions
from readloom.storage.db import sync_engine
from readloom.storage.models import ApiKey

pytestmark = BROWSER
TENANT = "lti-test-district"
NAMES = [v for u in USERS.values() for k, v in u.items() if k != "sub"]
DATA = Path(__file__).parents[2] / "data" / "passages"


def keys_issued(settings) -> int:
    """API keys in the LMS's tenant (a synchronous read: Playwright owns this thread's loop)."""
    engine = sync_engine(settings)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(ApiKey).where(ApiKey.tenant_id == TENANT)
            ).scalar_one()
    finally:
        engine.dispose()


def own_status(page, role: str, path: str) -> int:
    """What the page's own key may do on the public API."""
    return page.evaluate(
        """async ([role, path]) => {
          const key = JSON.parse(sessionStorage.getItem(`readloom.boot.${role}`)).key;
          return (await fetch(path, { headers: { Authorization: `Bearer ${key}` } })).status;
        }""",
        [role, path],
    )


def answer_to(question: str) -> str:
    """The answer key of the launched passage's question (the offline generator is
    deterministic: the same passage and grade give the same questions and answers)."""
    text = (DATA / "lighthouse-keeper.md").read_text().split("---", 2)[2]
    qs = generate_questions(
        passage_title="The Lighthouse Keeper's Storm", passage_text=text, count=20, grade=4
    ).questions
    answers = {q.question: q.answer for q in qs}
    assert question in answers, (question, list(answers))
    return answers[question]


def launch(page, lms, role: str, variant: str = "ok"):
    with page.expect_response(lambda r: r.url.endswith("/lti/launch")) as resp:
        page.goto(lms.launch_url(role, variant))
    page.wait_for_load_state()
    return resp.value


def test_student_launch_lands_on_student_page_and_posts_grade(web, lms, new_page, caplog):
    caplog.set_level(logging.INFO)
    scores_before = len(lms.scores)
    page = new_page()
    resp = launch(page, lms, "student")
    assert resp.status == 200
    page.wait_for_url(web.url + "/student")  # the launch URL is replaced: reload-safe
    # custom parameter passage_id: straight to the assigned passage, no picker
    page.locator("#passage-heading", has_text="The Lighthouse Keeper's Storm").wait_for()
    assert page.locator("#passage-picker").is_hidden()
    assert own_status(page, "student", "/v1/sessions") == 200
    assert own_status(page, "student", "/v1/alerts") == 403  # a student, not a teacher
    page.locator("#send:enabled").wait_for()
    send_and_wait(page, "Hi! I'm ready to start.")  # talk: no mastery, a score of 0
    # a correct answer to the question on the table moves mastery to the gradebook
    # (only correct answers and worked explanations move mastery, never a wrong try)
    send_and_wait(page, answer_to(page.locator("#tutor-question-text").inner_text()))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        s["scoreGiven"] > 0 for s in lms.scores[scores_before:]
    ):
        time.sleep(0.1)
    score = lms.scores[-1]
    assert score["userId"] == USERS["student"]["sub"]
    assert score["scoreMaximum"] == 100 and 0 < score["scoreGiven"] <= 100
    assert score["gradingProgress"] == "FullyGraded" and score["activityProgress"] == "InProgress"
    assert lms.token_requests and lms.token_requests[-1]["scope"].endswith("/scope/score")
    # No personal data from the id_token reaches the page, its URL, or a log line.
    html = page.content()
    for value in NAMES:
        assert value not in html and value not in page.url
        assert value not in caplog.text
    assert "lti_launch_ok role=student ags=True" in caplog.text
    report = a11y_report(page)
    assert report["unlabelled"] == [] and report["lowContrast"] == [], report
    shot(page, "lti-student")


def test_teacher_launch_lands_on_teacher_page_with_their_course(web, lms, new_page):
    student = new_page()
    launch(student, lms, "student")
    student.wait_for_url(web.url + "/student")
    teacher = new_page()
    assert launch(teacher, lms, "teacher").status == 200
    teacher.wait_for_url(web.url + "/teacher")
    teacher.locator("#panel-questions").wait_for()
    assert own_status(teacher, "teacher", "/v1/alerts") == 200
    teacher.get_by_role("tab", name="Class").click()
    teacher.locator("table.heatmap").wait_for()
    assert re.match(
        r"READ-4B \(\d+ students?\)", teacher.locator("#class-select option").first.inner_text()
    )
    rows = teacher.locator("table.heatmap tbody th[scope=row]").all_inner_texts()
    assert USERS["student"]["sub"] in rows
    for value in NAMES:
        assert value not in teacher.content()
    shot(teacher, "lti-teacher")


@pytest.mark.parametrize(
    ("role", "variant", "reason", "status"),
    [
        ("student", "bad_signature", "bad_signature", 401),
        ("student", "wrong_nonce", "wrong_nonce", 401),
        ("teacher", "wrong_aud", "wrong_audience", 401),
        ("teacher", "unknown_deployment", "unknown_deployment", 403),
        ("mentor", "ok", "unsupported_role", 403),
    ],
)
def test_invalid_launch_is_refused(web, lms, web_settings, new_page, role, variant, reason, status):
    before = keys_issued(web_settings)
    page = new_page()
    resp = launch(page, lms, role, variant)
    assert resp.status == status
    error = page.locator("#launch-error")
    assert error.get_attribute("data-reason") == reason
    assert page.evaluate("sessionStorage.length") == 0
    assert keys_issued(web_settings) == before
    if variant == "bad_signature":
        shot(page, "lti-refused")


def test_replayed_launch_is_refused(web, lms, web_settings, new_page):
    page = new_page()
    launch(page, lms, "student")
    page.wait_for_url(web.url + "/student")
    before = keys_issued(web_settings)
    with page.expect_response(lambda r: r.url.endswith("/lti/launch")) as resp:
        page.goto(lms.url + "/replay")  # the same id_token and state, posted again
    assert resp.value.status == 401
    assert page.locator("#launch-error").get_attribute("data-reason") == "bad_state"
    assert keys_issued(web_settings) == before


def test_launch_finished_in_another_browser_is_refused(web, lms, web_settings):
    """The state cookie binds the launch to the browser that started the login."""
    with httpx.Client(follow_redirects=False, timeout=30) as starter:
        r = starter.get(lms.launch_url("student"))
        r = starter.get(r.headers["location"])  # readloom's /lti/login
        assert r.status_code == 302 and "rl_lti_state_" in r.headers["set-cookie"]
        cookie = r.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=none" in cookie
        form = starter.get(r.headers["location"]).text  # the LMS's auto-posting form
    fields = dict(re.findall(r'name="(id_token|state)" value="([^"]+)"', form))
    before = keys_issued(web_settings)
    with httpx.Client(timeout=30) as other:  # no cookie from the login
        r = other.post(web.url + "/lti/launch", data=fields)
    assert r.status_code == 401 and 'data-reason="bad_state"' in r.text
    assert keys_issued(web_settings) == before


def test_unknown_platform_and_incomplete_login_are_refused(web):
    with httpx.Client(base_url=web.url, timeout=30) as c:
        r = c.get("/lti/login", params={"iss": "https://lms.invalid", "login_hint": "x"})
        assert r.status_code == 403 and 'data-reason="unknown_platform"' in r.text
        assert c.get("/lti/login", params={"iss": "https://lms.invalid"}).status_code == 400
        assert c.post("/lti/launch", data={"state": "nope"}).status_code == 400
        r = c.post("/lti/launch", data={"state": "nope", "id_token": "a.b.c"})
        assert r.status_code == 401 and 'data-reason="bad_state"' in r.text


def test_score_endpoint_is_only_for_lti_students(web):
    """A page key from the demo has no gradebook: 404, and nothing is posted."""
    with httpx.Client(base_url=web.url, timeout=30) as c:
        page = c.post("/web/demo/open", data={"role": "student"})
        key = re.search(r'"key":"(rlk_[^"]+)"', page.text).group(1)
        r = c.post("/v1/lti/score", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_default_page_key_lifetime_is_short():
    assert WebConfig().page_key_ttl_s <= 3600
