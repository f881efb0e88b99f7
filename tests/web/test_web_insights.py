"""The Insights tab in a real browser on the demo tenant: every figure with its freshness,
charts with text alternatives drawn in the colour-blind-safe palette (checked in the
screenshot's pixels), CSV export, and a family-summary link opened on a phone."""

from __future__ import annotations

import csv
import io

from png_pixels import has_colour
from test_web_teacher import download, open_demo_teacher
from webtest_support import BROWSER, a11y_report, no_horizontal_scroll, shot

pytestmark = BROWSER
FIGURES = ("fig-tti", "fig-mastery", "fig-struggling", "fig-inactive", "fig-cohort", "fig-hardest", "fig-engagement")  # fmt: skip
PHONE = {"width": 390, "height": 844}


def open_insights(web, new_page, **kw):
    page = open_demo_teacher(web, new_page, **kw)
    page.get_by_role("tab", name="Insights").click()
    page.locator("#chart-mastery svg[role='img']").wait_for()
    return page


def test_insights_show_every_figure_accessibly(web, new_page, tmp_path):
    page = open_insights(web, new_page)
    for fig in FIGURES:  # each figure is there and says how fresh it is
        section = page.locator(f"#{fig}")
        assert section.is_visible(), fig
        assert "Computed" in section.locator(".freshness").inner_text(), fig
        assert section.locator(".freshness").get_attribute("data-stale") == "false"
    for chart in ("chart-mastery", "chart-cohort", "chart-sessions"):
        svg = page.locator(f"#{chart} svg.chart")
        assert svg.get_attribute("role") == "img"
        assert svg.locator("title").text_content().strip()
        assert len(svg.locator("desc").text_content()) > 20
        rows = page.locator(f"#{chart} details table tbody tr")
        assert rows.count() >= 1  # the data, as a table
    assert page.locator("#chart-mastery svg.chart path[data-series]").count() >= 2
    assert page.locator("#fig-struggling table tbody tr").count() >= 1
    assert page.locator("#tti-median").inner_text() != ""
    report = a11y_report(page)
    assert report["unlabelled"] == [] and report["lowContrast"] == [], report

    path = shot(page, "teacher-insights", full_page=True)
    chart = shot(page.locator("#chart-mastery svg.chart"), "teacher-insights-mastery-chart")
    for colour in ("#0072B2", "#E69F00"):  # the first two Okabe-Ito series were drawn
        assert has_colour(chart, colour), colour
    assert path.stat().st_size > 10_000

    page.locator("#chart-mastery details summary").click()
    assert page.locator("#chart-mastery details table").is_visible()

    got = download(page, "#ins-csv", tmp_path)
    rows = list(csv.DictReader(io.StringIO(got.read_text())))
    assert {r["figure"] for r in rows} >= {"mastery_over_time", "engagement", "time_to_insight"}


def test_a_family_link_opens_on_a_phone(web, new_page):
    page = open_insights(web, new_page)
    page.get_by_label("Student", exact=True).select_option("demo-s02")
    page.get_by_role("button", name="Create link").click()
    url = page.locator("#fam-url").input_value()
    assert "/family/" in url

    phone = new_page(viewport=PHONE)
    phone.goto(url)
    assert phone.get_by_role("heading", name="Weekly reading summary").is_visible()
    assert "demo-s02" in phone.locator("#family-who").inner_text()
    assert phone.get_by_role("heading", name="One thing to practise at home").is_visible()
    for other in ("demo-s03", "demo-s04", "demo-student"):
        assert other not in phone.content()
    assert no_horizontal_scroll(phone)
    report = a11y_report(phone)
    assert report["unlabelled"] == [] and report["lowContrast"] == [], report
    shot(phone, "family-summary-phone", full_page=True)
    phone.emulate_media(media="print")
    assert not phone.locator("#print-summary").is_visible()

    page.get_by_role("button", name="Withdraw link").click()
    page.get_by_text("no longer works").wait_for()
    again = new_page(viewport=PHONE)
    resp = again.goto(url)
    assert resp.status == 404 and "not valid" in again.content()


def test_the_page_shows_the_last_result_marked_stale_when_recomputing_fails(
    web, web_settings, new_page
):
    from sqlalchemy import text

    from readloom.storage.db import sync_engine

    page = open_insights(web, new_page)
    engine = sync_engine(web_settings)
    try:
        with engine.begin() as c:  # a real fault: a table the analytics agent reads is gone
            c.execute(text("ALTER TABLE alert_timings RENAME TO alert_timings_away"))
        try:
            page.locator("#ins-apply").click()
            stale = page.locator("#fig-mastery .freshness[data-stale='true']")
            stale.wait_for()
            assert "Showing the last result" in stale.inner_text()
            assert page.locator("#chart-mastery svg.chart").is_visible()  # the figures stay
            shot(page, "teacher-insights-stale")
        finally:
            with engine.begin() as c:
                c.execute(text("ALTER TABLE alert_timings_away RENAME TO alert_timings"))
    finally:
        engine.dispose()
    page.locator("#ins-apply").click()
    page.locator("#fig-mastery .freshness[data-stale='false']").wait_for()
