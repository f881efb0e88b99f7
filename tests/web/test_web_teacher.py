"""The teacher page in a real browser: generate questions, edit, approve and discard
them, export (CSV, JSON, QTI 2.1 package, printable sheet); the class heatmap."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from webtest_support import BROWSER, TABLET, a11y_report, no_horizontal_scroll, shot

pytestmark = BROWSER

QTI = "{http://www.imsglobal.org/xsd/imsqti_v2p1}"
CP = "{http://www.imsglobal.org/xsd/imscp_v1p1}"
PASTED = (
    "The river otter slid down the muddy bank and splashed into the cold water. It swam "
    "in quick circles, looking for crayfish under the rocks. When it found one, it "
    "carried it back to a flat stone and ate it in the sunshine while its pups watched."
)


def open_demo_teacher(web, new_page, **kw):
    page = new_page(**kw)
    page.add_init_script("window.print = () => { window.__printed = (window.__printed || 0) + 1; }")
    page.goto(web.url + "/")
    page.locator("#open-teacher").click()
    page.wait_for_url(web.url + "/teacher")
    page.locator("#passage-select option").first.wait_for(state="attached")
    return page


def download(page, button: str, tmp_path: Path) -> Path:
    with page.expect_download() as info:
        page.locator(button).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_teacher_generates_reviews_and_exports_questions(web, new_page, tmp_path):
    page = open_demo_teacher(web, new_page)
    page.locator("#passage-select").select_option("lighthouse-keeper")
    page.get_by_label("Number of questions").fill("3")
    for kind in ("Who", "Why", "Vocabulary"):
        page.get_by_label(kind, exact=True).check()
    page.get_by_role("button", name="Generate questions").click()
    page.locator(".qcard").first.wait_for()
    cards = page.locator(".qcard")
    assert cards.count() == 3
    assert "ready to review" in page.locator("#gen-status").inner_text()
    assert page.locator("#export-csv").is_disabled()  # nothing approved yet

    edited = "Who had lived on Gull Rock, and for how long?"
    page.locator("#q1-question").fill(edited)
    discarded = page.locator("#q3-question").input_value()
    page.locator(".qcard[data-n='1'] [data-action=approve]").click()
    page.locator(".qcard[data-n='2'] [data-action=approve]").click()
    page.locator(".qcard[data-n='3'] [data-action=discard]").click()
    assert page.locator("#review-summary").inner_text() == "2 approved · 1 discarded · 0 to review"
    assert page.locator(".qcard[data-n='3'] #q3-question").is_hidden()
    # the focus stays on the button just used (keyboard users keep their place)
    assert page.evaluate("document.activeElement.dataset.action") == "discard"
    report = a11y_report(page)
    assert report["unlabelled"] == [] and report["lowContrast"] == [], report
    shot(page, "teacher-questions", full_page=True)

    rows = list(
        csv.DictReader(io.StringIO(download(page, "#export-csv", tmp_path).read_text("utf-8-sig")))
    )
    assert [r["number"] for r in rows] == ["1", "2"]
    assert rows[0]["question"] == edited and rows[0]["passage"] == "The Lighthouse Keeper's Storm"
    assert all(r["answer"] and r["evidence"] and r["skill"] for r in rows)
    assert discarded not in {r["question"] for r in rows}

    exported = json.loads(download(page, "#export-json", tmp_path).read_text())
    assert exported["format"] == "readloom.questions/v1"
    assert exported["passage"]["passage_id"] == "lighthouse-keeper"
    assert [q["question"] for q in exported["questions"]][0] == edited
    assert len(exported["questions"]) == 2

    package = zipfile.ZipFile(download(page, "#export-qti", tmp_path))
    assert package.testzip() is None  # CRCs check out
    manifest = ET.fromstring(package.read("imsmanifest.xml"))
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    items = [r for r in resources if r.get("type") == "imsqti_item_xmlv2p1"]
    tests = [r for r in resources if r.get("type") == "imsqti_test_xmlv2p1"]
    assert len(items) == 2 and len(tests) == 1
    test = ET.fromstring(package.read(tests[0].get("href")))
    assert test.tag == f"{QTI}assessmentTest"
    refs = test.findall(f".//{QTI}assessmentItemRef")
    assert [r.get("href") for r in refs] == [r.get("href") for r in items]
    first = ET.fromstring(package.read(items[0].get("href")))
    assert first.tag == f"{QTI}assessmentItem"
    body = first.find(f"{QTI}itemBody")
    assert body.find(f"{QTI}extendedTextInteraction").get("responseIdentifier") == "RESPONSE"
    assert edited in "".join(body.itertext())
    rubric = body.find(f"{QTI}rubricBlock")
    assert rubric.get("view") == "scorer" and "Model answer" in "".join(rubric.itertext())

    page.locator("#export-print").click()
    assert page.evaluate("window.__printed") == 1
    sheet = page.locator("#print-sheet")
    assert edited in sheet.text_content() and discarded not in sheet.text_content()
    page.emulate_media(media="print")
    assert page.locator("#print-sheet").is_visible() and page.locator("#teacher-main").is_hidden()
    shot(page, "teacher-print", full_page=True)
    page.emulate_media(media="screen")


def test_teacher_generates_from_pasted_text_and_as_a_job(web, new_page, tmp_path):
    page = open_demo_teacher(web, new_page)
    page.get_by_label("Paste my own text").check()
    page.get_by_label("Title").fill("River Otters")
    page.get_by_label("Passage text").fill(PASTED)
    page.get_by_label("Grade", exact=True).select_option("3")
    page.get_by_label("Number of questions").fill("2")
    page.get_by_role("button", name="Generate questions").click()
    page.locator(".qcard").first.wait_for()
    page.get_by_role("button", name="Approve all to review").click()
    exported = json.loads(download(page, "#export-json", tmp_path).read_text())
    assert exported["passage"]["title"] == "River Otters"
    assert 1 <= len(exported["questions"]) <= 2
    assert all(q["evidence"] in PASTED for q in exported["questions"])

    # More than ten questions become a job on the server; the page polls it.
    page.get_by_label("From the library").check()
    page.locator("#passage-select").select_option("mary-anning-fossil-hunter")
    page.get_by_label("Grade", exact=True).select_option("")
    page.get_by_label("Number of questions").fill("12")
    with page.expect_response(lambda r: r.url.endswith("/v1/questions")) as first:
        page.get_by_role("button", name="Generate questions").click()
    assert first.value.status == 202
    page.locator("#gen-status", has_text="ready to review").wait_for(timeout=120_000)
    assert page.locator(".qcard").count() >= 5


def test_teacher_form_checks_input(web, new_page):
    page = open_demo_teacher(web, new_page)
    page.get_by_label("Number of questions").fill("0")
    page.get_by_role("button", name="Generate questions").click()
    assert page.locator("#gen-status").inner_text() == "Choose between 1 and 50 questions."
    assert page.locator("#count").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "count"


def test_class_heatmap_shows_mastery_and_next_steps(web, new_page):
    page = open_demo_teacher(web, new_page)
    page.get_by_role("tab", name="Class").click()
    table = page.locator("table.heatmap")
    table.wait_for()
    students = table.locator("tbody th[scope=row]").all_inner_texts()
    assert {"demo-student", "demo-s02", "demo-s03", "demo-s04"} <= set(students)
    # demo-s04 answered 8 of 8 "ask and answer questions" items right: mastered.
    row = table.locator("tbody tr", has=page.locator("th", has_text="demo-s04"))
    headers = table.locator("thead tr").nth(1).locator("th").all_inner_texts()
    col = headers.index("ask and answer questions about key details")
    cell = row.locator("td").nth(col - 1)
    assert "lvl-mastered" in cell.get_attribute("class") and cell.inner_text().startswith("✓")
    # demo-s03 got most wrong: flagged as needing help, with a next step to take.
    low = table.locator("tbody tr", has=page.locator("th", has_text="demo-s03"))
    assert low.locator("td.lvl-low").count() >= 1
    assert low.locator("td.next-step").inner_text().startswith("Keep practising:")
    assert re.search(
        r"\d+ needs? help on at least one skill", page.locator("#class-status").inner_text()
    )
    n_practised = len(headers) - 2
    page.get_by_label("Show every skill").check()
    assert table.locator("thead tr").nth(1).locator("th").count() - 2 > n_practised
    page.get_by_label("Show every skill").uncheck()
    report = a11y_report(page)
    assert report["unlabelled"] == [] and report["lowContrast"] == [], report
    shot(page, "teacher-class", full_page=True)


def test_teacher_tabs_work_from_the_keyboard_on_a_tablet(web, new_page):
    page = open_demo_teacher(web, new_page, viewport=TABLET)
    page.get_by_role("tab", name="Questions").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-alerts"
    assert (
        page.locator("#panel-alerts").is_visible() and page.locator("#panel-questions").is_hidden()
    )
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.id") == "tab-insights"  # the last tab
    page.keyboard.press("Home")
    assert page.get_by_role("tab", name="Questions").get_attribute("aria-selected") == "true"
    assert no_horizontal_scroll(page)
    shot(page, "teacher-tablet")
