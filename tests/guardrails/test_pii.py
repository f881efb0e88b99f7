"""PII redaction: every entity kind, stable pseudonyms, allow-list, re-identification."""

from __future__ import annotations

import re
import socket

import pytest

from readloom.guardrails.base import GuardContext
from readloom.guardrails.pii import PiiGuard, offline_tld_extractor

TOKEN = re.compile(r"<[A-Z_]+_\d+>")

# (message, entity type that must be found, the value it covers)
ENTITY_CASES = [
    ("my name is maria and im in 4th grade", "PERSON", "maria"),
    ("MY NAME IS KEISHA AND I HATE READING", "PERSON", "KEISHA"),
    ("my friend oluwaseun says the wolf was tricking them", "PERSON", "oluwaseun"),
    ("me and brexley are partners", "PERSON", "brexley"),
    ("Wei and I think the answer is B", "PERSON", "Wei"),
    ("my brother jamal took my ipad", "PERSON", "jamal"),
    ("my mom Latisha said i have to finish", "PERSON", "Latisha"),
    ("Mrs. Okafor said we have to read chapter 3", "PERSON", "Okafor"),
    ("mr. k said i could ask you", "PERSON", "k"),
    ("our teacher mrs de la cruz gave us this", "PERSON", "de la cruz"),
    ("my bff Sofia Ramirez sits next to me", "PERSON", "Sofia Ramirez"),
    ("I'm Aaliyah Johnson and I go to Lincoln Elementary", "SCHOOL", "Lincoln Elementary"),
    ("i go to jefferson middle school", "SCHOOL", "jefferson middle school"),
    ("i go to PS 118 in Queens", "SCHOOL", "PS 118"),
    ("im in room 12 with Ms. Rivera", "CLASSROOM", "room 12"),
    ("my student id is 20231847", "STUDENT_ID", "20231847"),
    ("my lunch number is 48213 lol", "STUDENT_ID", "48213"),
    ("my username is coolcat99", "USERNAME", "coolcat99"),
    ("follow me on insta @sparkle.queen.12", "USERNAME", "@sparkle.queen.12"),
    ("my discord is pixelwolf#4821", "USERNAME", "pixelwolf#4821"),
    ("my birthday is march 3 2014", "DATE_OF_BIRTH", "march 3 2014"),
    ("i was born on 3/14/2013", "DATE_OF_BIRTH", "3/14/2013"),
    ("im 10 and my brother is 7", "AGE", "10"),
    ("I live at 42 Maple Street in Springfield", "STREET_ADDRESS", "42 Maple Street"),
    ("i live on Oak Street next to the park", "STREET_ADDRESS", "Oak Street"),
    ("my zip code is 94110", "ZIP_CODE", "94110"),
    ("call my mom at 555-201-8834 she said its ok", "PHONE_NUMBER", "555-201-8834"),
    ("my dads number is (312) 555-0147", "PHONE_NUMBER", "(312) 555-0147"),
    ("my email is jaylen.w2013@gmail.com", "EMAIL_ADDRESS", "jaylen.w2013@gmail.com"),
    ("my name is Lwazi i am from Durban", "LOCATION", "Durban"),
]


@pytest.mark.parametrize(("text", "entity", "value"), ENTITY_CASES)
def test_each_entity_kind_is_redacted(redactor, text, entity, value):
    findings = redactor.analyze(text)
    assert (entity, value) in {(f.entity_type, text[f.start : f.end]) for f in findings}
    red = redactor.redact(text, session_id="s-kinds")
    assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", red.text)
    assert entity in red.entities


@pytest.mark.parametrize(
    "text",
    [
        "i dont get it",
        "will you help me with this",
        "the wolf said little pig let me in",
        "i am 5 pages in",
        "the answer is on page 42",
        "i hope the dog is ok",
        "can i have a hint",
        "the king had 3 sons and a big castle",
        "thank you Mr tutor",
    ],
)
def test_ordinary_messages_are_left_alone(redactor, text):
    red = redactor.redact(text, session_id="s-plain")
    assert (red.text, red.entities) == (text, ())


def test_pseudonyms_are_stable_across_turns_and_letter_case(redactor):
    first = redactor.redact("my friend Maria Lopez and Jamal", session_id="s1")
    assert first.text == "my friend <PERSON_1> and <PERSON_2>"
    again = redactor.redact("maria said JAMAL was right", session_id="s1")
    assert again.text == "<PERSON_1> said <PERSON_2> was right"
    phone = redactor.redact("call 555-201-8834", session_id="s1")
    phone_again = redactor.redact("its 555 201 8834", session_id="s1")
    assert phone.text.endswith("<PHONE_1>") and phone_again.text.endswith("<PHONE_1>")


def test_sessions_do_not_share_pseudonyms(redactor):
    redactor.redact("my friend Jamal", session_id="a")
    b = redactor.redact("my friend Priya and my friend Jamal", session_id="b")
    assert b.text == "my friend <PERSON_1> and my friend <PERSON_2>"
    assert redactor.reidentify("<PERSON_1>", session_id="b") == "Priya"
    assert redactor.reidentify("<PERSON_1>", session_id="a") == "Jamal"


def test_reidentify_round_trip(redactor):
    text = "hi im Aaliyah, my email is aaliyah.j@gmail.com and i live at 42 Maple Street"
    red = redactor.redact(text, session_id="rt")
    assert "Aaliyah" not in red.text and TOKEN.search(red.text)
    assert redactor.reidentify(red.text, session_id="rt") == text
    assert redactor.reidentify("<PERSON_9> stays", session_id="rt") == "<PERSON_9> stays"


def test_placeholders_are_not_redacted_again(redactor):
    red = redactor.redact("<PERSON_1> and <SCHOOL_1> said hi to Jamal", session_id="ph")
    assert red.text.startswith("<PERSON_1> and <SCHOOL_1> said hi to <PERSON_")
    assert red.entities == ("PERSON",)


@pytest.mark.parametrize(
    ("text", "allow", "kept", "gone"),
    [
        ("i think tobias was lonely, my grandpa Ernesto too", {"Tobias"}, "tobias", "Ernesto"),
        ("Mr. Fox tricked Hugo. my friend Lucia said pip was funny",
         {"Hugo", "Pip", "Fox"}, "Mr. Fox tricked Hugo", "Lucia"),
        ("Diego should tell the truth, my cousin Diego Ruiz agrees", {"Diego"}, "Diego should",
         "Ruiz"),
    ],
)  # fmt: skip
def test_passage_characters_are_allow_listed(redactor, text, allow, kept, gone):
    red = redactor.redact(text, session_id="al", allow_list=frozenset(allow))
    assert kept in red.text
    assert gone not in red.text


def test_passage_allow_list_finds_characters(redactor):
    passage = (
        "Tobias kept the lighthouse on Gull Rock. Every night he climbed the stairs. "
        "One stormy evening a girl named Wren knocked at his door."
    )
    names = redactor.passage_allow_list(passage)
    assert {"Tobias", "Wren"} <= names
    red = redactor.redact("why did wren knock, my sister Ngozi asked", session_id="p",
                          allow_list=names)  # fmt: skip
    assert "wren" in red.text and "Ngozi" not in red.text


def test_output_guard_masks_without_remembering(redactor):
    guard = PiiGuard(redactor)
    ctx = GuardContext(session_id="out", direction="output", allow_list=frozenset({"Tobias"}))
    result = guard.check("Great job <PERSON_1>! Tobias would call 555-201-8834.", ctx)
    assert result.text == "Great job <PERSON_1>! Tobias would call [removed]."
    assert result.entities == ("PHONE_NUMBER",)
    assert redactor.vault.count("out") == 0


def test_tldextract_never_touches_the_network(redactor, monkeypatch):
    """Email validation uses tldextract; it must work from its bundled snapshot."""

    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    offline_tld_extractor.cache_clear()
    assert offline_tld_extractor()("kid@school.k12.ca.us").suffix == "k12.ca.us"
    red = redactor.redact("email me at kid_reader@school.org", session_id="net")
    assert red.text == "email me at <EMAIL_1>"


class _CountingAnalyzer:
    """The real analyzer, counting the analyses it is asked for."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.nlp_engine = inner.nlp_engine

    def analyze(self, **kw):
        self.calls += 1
        return self.inner.analyze(**kw)


def test_findings_are_reused_only_for_the_same_text_and_allow_list(settings, vault, analyzer):
    from readloom.guardrails.pii import PiiRedactor

    counting = _CountingAnalyzer(analyzer)
    red = PiiRedactor(settings, vault=vault, analyzer=counting)
    text = "My friend Jayden and Maria Lopez walked to the lighthouse."
    allowed = frozenset({"Maria Lopez"})
    first = red.analyze(text, allow_list=allowed)
    assert red.analyze(text, allow_list=allowed) == first
    assert counting.calls == 1  # the second analysis came from the memo
    # Another allow-list is another analysis: an allow-listed name never leaks into it.
    bare = red.analyze(text)
    assert counting.calls == 2
    assert {text[f.start : f.end] for f in bare} >= {"Maria Lopez", "Jayden"}
    assert {text[f.start : f.end] for f in first} == {"Jayden"}
    # Pseudonyms stay per session even though the findings are shared.
    a = red.redact(text, session_id="s-a")
    b = red.redact("Hi, I am Ana. " + text, session_id="s-b")
    assert counting.calls == 3
    assert a.text.startswith("My friend <PERSON_1> and <PERSON_2>")
    assert b.text.startswith("Hi, I am <PERSON_1>. My friend <PERSON_2> and <PERSON_3>")
