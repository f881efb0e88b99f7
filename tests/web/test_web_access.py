"""Page keys are short-lived and the local demo answers only a browser on this machine."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from sqlalchemy import select, update
from test_web_student import open_demo_student, pick_passage, send_and_wait
from webtest_support import CHROMIUM, NO_CHROMIUM, make_server, mint_key

from readloom.settings import Settings
from readloom.storage.db import sync_engine
from readloom.storage.models import ApiKey
from readloom.storage.models_stores import LtiPageKey


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory, web_services):
    """A second server whose sweeper runs often. Its page keys live long enough for the page to
    load on a busy machine; the test ends a key's life itself (``_expire_page_keys``), so the
    moment the key expires never races the page."""
    settings = Settings(home=tmp_path_factory.mktemp("short-lived-home"))
    server = make_server(settings, web_services, page_key_ttl_s=600.0, sweep_interval_s=0.2)
    try:
        yield server, settings
    finally:
        server.stop()


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
def test_expired_page_key_signs_the_page_out(short_lived, new_page):
    server, settings = short_lived
    page = open_demo_student(server, new_page)
    pick_passage(page, "The Lighthouse Keeper's Storm")
    send_and_wait(page, "hi")
    key_id = None
    engine = sync_engine(settings)
    try:
        with engine.begin() as conn:  # the key's lifetime ends now, as a 2-second key's would
            conn.execute(
                update(LtiPageKey)
                .where(LtiPageKey.tenant == "demo")
                .values(expires_at=time.time() - 1)
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the sweeper revokes the expired key
            with engine.connect() as conn:
                rows = conn.execute(
                    select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.tenant_id == "demo")
                ).all()
            if rows and all(r.revoked_at is not None for r in rows):
                key_id = rows[0].id
                break
            time.sleep(0.2)
    finally:
        engine.dispose()
    assert key_id, "the expired page key was not revoked"
    page.locator("#message").fill("are you there?")
    page.locator("#send").click()
    page.locator("#signed-out").wait_for()
    assert "sign-in has ended" in page.locator("#signed-out").inner_text()
    assert page.evaluate("sessionStorage.getItem('readloom.boot.student')") is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "readloom.example.org"},  # a DNS-rebinding page, or a public hostname
        {"X-Forwarded-For": "203.0.113.9"},  # behind a proxy: not this machine's browser
        {"Forwarded": "for=203.0.113.9"},
    ],
)
def test_demo_is_only_for_this_machine(web, headers):
    with httpx.Client(base_url=web.url, timeout=30) as c:
        r = c.post("/web/demo/open", data={"role": "teacher"}, headers=headers)
        assert r.status_code == 403 and 'data-reason="demo_off"' in r.text
        assert "rlk_" not in r.text
        assert c.get("/web/status", headers=headers).json()["demo"] is False


def test_demo_open_from_this_machine_hands_the_key_to_the_page_only(web):
    with httpx.Client(base_url=web.url, timeout=30) as c:
        r = c.post("/web/demo/open", data={"role": "teacher"})
        assert c.post("/web/demo/open", data={"role": "admin"}).status_code == 400
    assert r.status_code == 200 and str(r.url) == web.url + "/web/demo/open"
    boot = re.search(r'<script type="application/json" id="rl-boot">(.*?)</script>', r.text).group(
        1
    )
    assert '"role":"teacher"' in boot and '"key":"rlk_' in boot
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_pages_without_a_launch_carry_no_key(web):
    with httpx.Client(base_url=web.url, timeout=30) as c:
        for path in ("/", "/student", "/teacher"):
            r = c.get(path)
            assert r.status_code == 200 and "rlk_" not in r.text
        assert (
            c.get("/static/js/api.js")
            .headers["content-type"]
            .startswith(("text/javascript", "application/javascript"))
        )


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (("teacher", "demo-teacher"), 200),  # the class's teacher
        (("admin", None), 200),
        (("teacher", "another-teacher"), 404),  # not their class: existence not revealed
        (("student", "demo-student"), 403),  # never for students
    ],
)
def test_class_mastery_is_scoped(web, web_settings, who, status):
    with httpx.Client(base_url=web.url, timeout=60) as c:
        c.post("/web/demo/open", data={"role": "teacher"})  # makes sure the demo class exists
        key = mint_key(web_settings, tenant="demo", role=who[0], subject=who[1])
        r = c.get("/v1/classes/demo-class/mastery", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == status, r.text
    if status == 200:
        body = r.json()
        assert body["mastered_at"] == 0.95
        assert len(body["skills"]) == 29 and body["skills"][0]["id"] == "ask_answer_questions"
        row = next(s for s in body["students"] if s["student_id"] == "demo-s04")
        assert row["mastery"]["ask_answer_questions"] >= 0.95
        assert row["attempts"]["ask_answer_questions"] == 8
        assert row["recommendation"]["student_id"] == "demo-s04"
    else:
        assert r.headers["content-type"].startswith("application/problem+json")
    other = mint_key(web_settings, tenant="demo-other", role="admin")
    with httpx.Client(base_url=web.url, timeout=60) as c:
        r = c.get("/v1/classes/demo-class/mastery", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 404  # another tenant's admin
