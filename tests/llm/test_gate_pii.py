"""The default wiring: the gate with the real Presidio redactor in front of the SDKs."""

from __future__ import annotations

import pytest
from fakes.llm_servers import Reply, fake_anthropic_server, fake_openai_server
from fakes.providers import FakeProvider

from readloom.llm.base import ChatMessage, LLMRequest
from readloom.llm.gate import LLMGate, default_redactor
from readloom.settings import Settings

pytestmark = pytest.mark.slow

PII = ["Maria Lopez", "Jayden", "12 Elm Street", "555-201-0199", "Lincoln Elementary"]


@pytest.fixture(scope="module")
def redactor(tmp_path_factory):
    """One Presidio/spaCy load for the module, through the gate's default factory."""
    home = tmp_path_factory.mktemp("pii-home")
    return default_redactor(Settings(home=home))


async def test_real_redactor_keeps_pii_off_the_wire(settings_for, redactor):
    messages = [
        ChatMessage(role="system", content="Student: Maria Lopez, Lincoln Elementary."),
        ChatMessage(role="user", content="my friend jayden lives at 12 Elm Street"),
        ChatMessage(role="user", content="call me at 555-201-0199. why did Tobias stay?"),
    ]
    req = LLMRequest(
        task="tutor_reply",
        messages=messages,
        variables={"student_message": messages[-1].content, "history": [messages[1].content]},
        prompt_id="tutor_reply@v3",
    )
    offline = FakeProvider()
    with (
        fake_openai_server([Reply.error(500)]) as oai,
        fake_anthropic_server([Reply.error(500), Reply.ok("Good question!")]) as ant,
    ):
        gate = LLMGate.from_settings(
            settings_for(openai=oai, anthropic=ant),
            redactor,
            provider_factories={"offline": lambda s: offline},
        )
        for _ in range(2):  # a retry after a 500, then a second call of the session
            await gate.generate(req, session_id="pii-1", allow_list=frozenset({"Tobias"}))
    wire = (oai.raw_bodies() + ant.raw_bodies()).lower()
    assert len(oai.requests) + len(ant.requests) >= 3
    assert [v for v in PII if v.lower() in wire] == []
    assert "tobias" in wire and "<person_" in wire


def test_prompts_are_redacted_line_by_line_with_stable_tokens(redactor):
    """A repeated line is analysed once; a name on any line is caught, and it gets the
    same token wherever it appears in the session."""
    gate = LLMGate(Settings(), redactor, router=None, ledger=None, budget=None, cache=None)
    passage = "The keeper climbed the stairs.\nHe lit the lamp before the storm."

    def redact(user: str) -> LLMRequest:
        req = LLMRequest(
            task="tutor_reply",
            prompt_id="p@v1",
            messages=[
                ChatMessage(role="system", content=passage),
                ChatMessage(role="user", content=user),
            ],
        )
        return gate.redact_request(req, session_id="lines-1", allow_list=frozenset())

    first = redact("Question: why?\nStudent says: ask Jayden Smith")
    second = redact("my friend Jayden Smith\nStudent says: idk")
    assert first.messages[0].content == passage == second.messages[0].content
    token = first.messages[1].content.rsplit("ask ", 1)[1]
    assert token.startswith("<PERSON_") and "Jayden" not in first.messages[1].content
    assert second.messages[1].content.splitlines()[0] == f"my friend {token}"


def test_a_variable_spliced_into_a_line_is_analysed_once(redactor, monkeypatch):
    """The student's message, as a variable and inside its template line, is analysed
    once; a name in it is replaced in both places with the same token."""
    analysed: list[str] = []
    real = redactor._analyze

    def counting(text, allow_list):
        analysed.append(text)
        return real(text, allow_list)

    monkeypatch.setattr(redactor, "_analyze", counting)
    gate = LLMGate(Settings(), redactor, router=None, ledger=None, budget=None, cache=None)
    said = "my friend Jayden Smith thinks the storm scared them"
    clean = gate.redact_request(
        LLMRequest(
            task="tutor_reply",
            prompt_id="p@v1",
            messages=[ChatMessage(role="user", content=f"Student says: {said}\nBe kind.")],
            variables={"student_message": said},
        ),
        session_id="splice-1",
        allow_list=frozenset(),
    )
    assert analysed.count(said) == 1
    assert not any(said in t and t != said for t in analysed)  # never re-read in its line
    token_line = clean.messages[0].content.splitlines()[0]
    assert "Jayden" not in token_line and "<PERSON_" in token_line
    assert token_line == "Student says: " + clean.variables["student_message"]
