"""Full names no list knows: a classmate's name must not reach a provider, and ordinary
Title-case phrases (days, places, titles, greetings) must not be taken for one."""

from __future__ import annotations

import re

import pytest

from readloom.guardrails.lexicon import load_lexicon

# (message, the name that must be redacted as PERSON)
FOUND = [
    ("Wilhelmina Brackenbury walked her dog to the park after school.", "Wilhelmina Brackenbury"),
    ("Yesterday Wilhelmina Brackenbury gave me a pencil.", "Wilhelmina Brackenbury"),
    ("My friend Wilhelmina Brackenbury is in my class.", "Wilhelmina Brackenbury"),
    ("Wilhelmina said hi.", "Wilhelmina"),
    ("Ignatius Featherstonehaugh-Pryce lent me a pen.", "Ignatius Featherstonehaugh-Pryce"),
    ("Thaddeus O'Rourke is late again.", "Thaddeus O'Rourke"),
    ("at recess Wilhelmina Brown shared her snack", "Wilhelmina Brown"),
    # a platform cue inside a word is no cue: "Ign" must not be left in clear
    ("Ignatius is my lab partner.", "Ignatius"),
    ("my reading buddy ezekiel helped me", "ezekiel"),
]

# ordinary messages: nothing in them is personal data
PLAIN = [
    "Last Tuesday we read a story about a fox.",
    "The Lighthouse Keeper was my favourite part.",
    "We read Island of the Blue Dolphins today.",
    "Good Morning Miss Tutor.",
    "Merry Christmas to you.",
    "Happy Birthday!",
    "We have Spanish Class today.",
    "I think the Magic Tree House books are fun.",
    "the crystal was shiny and I liked it",
    "We learned about Southern Canada in class.",
]


@pytest.mark.parametrize(("text", "name"), FOUND)
def test_full_name_outside_the_gazetteer_is_redacted(redactor, text, name):
    findings = {(f.entity_type, text[f.start : f.end]) for f in redactor.analyze(text)}
    assert ("PERSON", name) in findings
    red = redactor.redact(text, session_id="full-names")
    for part in name.split():
        assert not re.search(rf"(?<!\w){re.escape(part)}(?!\w)", red.text)


@pytest.mark.parametrize("text", PLAIN)
def test_ordinary_title_case_phrases_are_left_alone(redactor, text):
    assert redactor.analyze(text) == []


def test_a_place_stays_a_place(redactor):
    text = "We went to New York last summer."
    findings = {(f.entity_type, text[f.start : f.end]) for f in redactor.analyze(text)}
    assert findings == {("LOCATION", "New York")}


def test_a_passage_title_on_the_allow_list_is_kept(redactor):
    passage = "The Lighthouse Keeper\n\nTobias Wren kept the light on Gull Rock for forty years."
    allow = redactor.passage_allow_list(passage)
    text = "In The Lighthouse Keeper, why does Tobias Wren stay on Gull Rock?"
    assert redactor.redact(text, session_id="title", allow_list=allow).text == text
    # the allow-list covers the passage's names only: a classmate is still redacted
    other = "Wilhelmina Brackenbury said The Lighthouse Keeper was sad."
    red = redactor.redact(other, session_id="title", allow_list=allow)
    assert "Brackenbury" not in red.text and "The Lighthouse Keeper" in red.text


def test_census_names_count_only_when_written_as_names():
    lex = load_lexicon()
    assert lex.is_census_name("Wilhelmina") and not lex.is_name("Wilhelmina")
    # everyday words on the Census lists stay everyday words
    assert not lex.is_census_name("may") and not lex.is_census_name("see")


def test_an_address_line_is_not_a_person(redactor):
    text = "Send it to Suite 907 Soloi Cyprus please"
    assert "PERSON" not in {f.entity_type for f in redactor.analyze(text)}


def test_a_handle_after_a_platform_cue_is_still_found(redactor):
    text = "my ig is coolcat99"
    findings = {(f.entity_type, text[f.start : f.end]) for f in redactor.analyze(text)}
    assert ("USERNAME", "coolcat99") in findings
