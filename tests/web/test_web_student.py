"""The student page in a real browser: a tutoring session whose replies stream in, the
student answering the tutor's questions, hints and alternate explanations that look
different, keyboard use, accessibility and layout on a Chromebook and a tablet."""

from __future__ import annotations

import re

import pytest
from webtest_support import (
    BROWSER,
    CHROMEBOOK,
    TABLET,
    a11y_report,
    in_viewport,
    no_horizontal_scroll,
    shot,
)

pytestmark = BROWSER


def open_demo_student(web, new_page, viewport=CHROMEBOOK):
    page = new_page(viewport)
    page.goto(web.url + "/")
    page.locator("#open-student").click()
    page.wait_for_url(web.url + "/student")
    return page


def pick_passage(page, title: str) -> None:
    page.get_by_role("button", name=re.compile(re.escape(title))).click()
    page.locator("#passage-heading", has_text=title).wait_for()
    page.locator("#send:enabled").wait_for()


def send_and_wait(page, text: str) -> dict:
    """Type a message with the keyboard, press Enter, wait for the finished reply."""
    before = page.locator("#chat-log .msg-tutor:not(.streaming)").count()
    page.locator("#message").focus()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.locator("#chat-log .msg-tutor:not(.streaming)").nth(before).wait_for()
    last = page.locator("#chat-log .msg-tutor").last
    return {
        "move": last.get_attribute("data-move"),
        "tokens": int(last.get_attribute("data-tokens") or 0),
        "text": last.locator(".msg-text").inner_text(),
    }


def test_student_chat_streams_replies_and_shows_moves(web, new_page):
    page = open_demo_student(web, new_page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    pick_passage(page, "Mary Anning: Fossil Hunter")
    # The tutor opens: a greeting and the first question before the student types.
    opening = page.locator("#chat-log .msg-tutor[data-move=ask_question]").first
    opening.wait_for()
    assert page.locator("#tutor-question-text").inner_text() in opening.inner_text()
    # A greeting from the student gets the same question again; it streams token by token.
    first = send_and_wait(page, "Hi! I'm ready to start.")
    assert first["tokens"] > 1, "the reply should arrive as several streamed token events"
    assert first["move"] == "ask_question"
    question = page.locator("#tutor-question-text").inner_text()
    assert question.endswith("?") and question in first["text"]
    assert page.locator("#message-label").inner_text() == "Your answer (or ask for help)"
    announced = page.locator("#announcer").inner_text()
    assert announced == f"Tutor (Question): {first['text']}"
    assert page.locator("[aria-live=polite]#announcer").count() == 1

    # Wrong answers: hints first, then an alternate explanation.
    moves = [send_and_wait(page, "a purple elephant ate it")["move"] for _ in range(3)]
    assert moves[0] == "hint"
    assert "alternate_explanation" in moves, moves
    # each graded answer is marked on the student's own message
    assert page.locator(".msg-student .badge", has_text="Not quite yet").count() >= 2
    hint = page.locator(".msg-tutor.move-hint").first
    alt = page.locator(".msg-tutor.move-alternate").first
    assert hint.locator(".badge").inner_text() == "Hint"
    assert "Another way to see it" in alt.locator(".badge").inner_text()
    style = "el => { const s = getComputedStyle(el); return [s.backgroundColor, s.borderTopStyle, s.borderTopColor]; }"
    hint_style, alt_style = hint.evaluate(style), alt.evaluate(style)
    assert hint_style[0] != alt_style[0] and hint_style[1] != alt_style[1], (hint_style, alt_style)

    report = a11y_report(page)
    assert report["unlabelled"] == [] and report["lowContrast"] == [], report
    assert no_horizontal_scroll(page)
    assert in_viewport(page, "#passage-heading") and in_viewport(page, "#send")
    shot(page, "student-chromebook")

    # Larger type on demand, and a reload resumes the same conversation.
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.locator("#text-larger").click()
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") > size
    count = page.locator("#chat-log .msg").count()
    page.reload()
    page.locator("#passage-heading", has_text="Mary Anning").wait_for()
    page.locator("#chat-log .msg-student").first.wait_for()
    assert page.locator("#chat-log .msg").count() == count
    assert page.locator(".chip[data-start]").is_hidden()
    assert page.locator(".msg-tutor.move-alternate").count() >= 1


def test_student_page_on_a_tablet(web, new_page):
    page = open_demo_student(web, new_page, TABLET)
    pick_passage(page, "The Market Mix-Up")
    reply = send_and_wait(page, "hi")
    assert reply["text"]
    assert no_horizontal_scroll(page)
    for selector in ("#passage-heading", "#chat-heading", "#message", "#send"):
        assert in_viewport(page, selector), selector
    report = a11y_report(page)
    assert report["unlabelled"] == [] and report["lowContrast"] == [], report
    shot(page, "student-tablet")


@pytest.mark.parametrize("viewport", [CHROMEBOOK, TABLET], ids=["chromebook", "tablet"])
def test_signed_out_page_without_a_launch(web, new_page, viewport):
    page = new_page(viewport)
    page.goto(web.url + "/student")
    notice = page.locator("#signed-out")
    notice.wait_for()
    assert "class page" in notice.inner_text()
    assert page.locator("#student-main").is_hidden()


@pytest.mark.parametrize("role", ["student", "teacher"])
def test_page_opened_directly_on_the_demo_links_back_to_it(web, new_page, role):
    """``serve --demo``: a bookmarked /teacher or /student is no dead end."""
    page = new_page()
    page.goto(f"{web.url}/{role}")
    page.locator("#signed-out-demo").wait_for()
    page.get_by_role("link", name="go to the demo's start page").click()
    page.wait_for_url(web.url + "/")
    page.locator(f"#open-{role}:not([disabled])").wait_for()
    page.locator(f"#open-{role}").click()
    page.wait_for_url(f"{web.url}/{role}")
    page.locator("#signed-out").wait_for(state="hidden")
