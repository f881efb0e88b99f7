"""The intervention and safety-alert queue: a student's disclosure reaches their
teacher's queue, and the teacher acknowledges it from the page."""

from __future__ import annotations

import httpx
from test_web_student import open_demo_student, pick_passage, send_and_wait
from webtest_support import BROWSER, a11y_report, shot

pytestmark = BROWSER


def page_key(page, role: str) -> str:
    return page.evaluate(f"JSON.parse(sessionStorage.getItem('readloom.boot.{role}')).key")


def test_alert_queue_and_acknowledge(web, new_page):
    student = open_demo_student(web, new_page)
    pick_passage(student, "How Volcanoes Form")
    reply = send_and_wait(student, "kids at school keep picking on me")
    assert reply["move"] == "safety"
    assert "teacher" in reply["text"]
    assert student.locator(".msg-tutor.move-safety .badge").last.inner_text() == "Important"

    teacher = new_page()
    teacher.goto(web.url + "/")
    teacher.locator("#open-teacher").click()
    teacher.wait_for_url(web.url + "/teacher")
    teacher.locator("#alert-count:not(:empty)").wait_for()
    assert int(teacher.locator("#alert-count").inner_text()) >= 1
    teacher.get_by_role("tab", name="Alerts").click()
    item = teacher.locator("#alert-list li", has_text="Bullying reported").first
    item.wait_for()
    assert "Student demo-student" in item.inner_text()
    assert item.get_attribute("data-status") == "open"
    alert_id = item.get_attribute("data-id")
    report = a11y_report(teacher)
    assert report["unlabelled"] == [] and report["lowContrast"] == [], report
    shot(teacher, "teacher-alerts")

    item.get_by_role("button", name="Acknowledge").click()
    teacher.locator("#alert-status-msg", has_text="Alert acknowledged.").wait_for()
    done = teacher.locator(f"#alert-list li[data-id='{alert_id}']")
    assert done.get_attribute("data-status") == "acknowledged"
    assert done.get_by_role("button", name="Acknowledge").count() == 0

    # The server agrees: the alert left the open queue, acknowledged by this teacher.
    key = page_key(teacher, "teacher")
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        open_ids = {
            a["id"] for a in api.get("/v1/alerts", params={"status": "open"}).json()["items"]
        }
        acked = api.get("/v1/alerts", params={"status": "acknowledged"}).json()["items"]
    assert alert_id not in open_ids
    assert any(a["id"] == alert_id and a["acknowledged_by"] == "demo-teacher" for a in acked)

    teacher.get_by_label("Alerts to show").select_option("acknowledged")
    teacher.locator(f"#alert-list li[data-id='{alert_id}']").wait_for()
    shot(teacher, "teacher-alerts-acknowledged")
