"""Sealing a tenant's passage: placeholders numbered per passage, the same person the same
placeholder in every field, the real text back byte for byte, and a wrong key refuses."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from readloom.errors import ReadloomError
from readloom.guardrails.sealing import PassageSealer
from readloom.retrieval.models import Passage

ESSAY = (
    "My Winter by Soren Kowalczyk, grade 4, student id 48213, soren.k2015@gmail.com, "
    "call 06 12 34 56 78. This winter my family drove to the mountains. Soren built a "
    "snowman with his brother Evander, and Kowalczyk is a hard name to spell on a snowman."
)
VALUES = ("Soren", "Kowalczyk", "48213", "soren.k2015", "06 12 34 56 78", "Evander")


@pytest.fixture
def sealer(redactor) -> PassageSealer:
    return PassageSealer(redactor, Fernet.generate_key())


def _passage(**over) -> Passage:
    fields = {
        "passage_id": "essay-1", "title": "Soren Kowalczyk's winter", "text": ESSAY, "grade": 4,
        "characters": ["Soren Kowalczyk", "Evander"], "topics": ["Evander and the snow"],
        "source": "pasted",
    }  # fmt: skip
    return Passage(**{**fields, **over})


def test_sealed_passage_holds_no_personal_data_and_opens_exactly(sealer: PassageSealer):
    passage = _passage()
    sealed, token = sealer.seal(passage)
    stored = sealed.model_dump_json() + token
    for value in VALUES:
        assert value.lower() not in stored.lower(), value
    # one person, one placeholder, in the text, the title and the characters
    person = sealed.characters[0]
    assert person.startswith("<PERSON_") and person in sealed.text and person in sealed.title
    assert sealer.opening(token).passage(sealed) == passage


def test_every_passage_numbers_its_own_placeholders(sealer: PassageSealer):
    one, _ = sealer.seal(_passage())
    other = "Last winter Thaddeus Nowak wrote a story about the snow in the mountains."
    two, _ = sealer.seal(
        _passage(passage_id="essay-2", text=other, title="Snow", characters=[], topics=[])
    )
    assert "<PERSON_2>" in one.text
    assert two.text == "Last winter <PERSON_1> wrote a story about the snow in the mountains."


def test_span_offsets_map_to_the_real_text(sealer: PassageSealer):
    passage = _passage()
    sealed, token = sealer.seal(passage)
    opening = sealer.opening(token)
    start = sealed.text.index("This winter")
    end = len(sealed.text)
    text, raw_start, raw_end = opening.span(sealed.text[start:end], start, end)
    assert passage.text[raw_start:raw_end] == text
    assert text.startswith("This winter") and "Evander" in text


def test_a_wrong_key_or_a_damaged_token_refuses(sealer: PassageSealer, redactor):
    _, token = sealer.seal(_passage())
    other = PassageSealer(redactor, Fernet.generate_key())
    with pytest.raises(ReadloomError) as err:
        other.opening(token)
    assert err.value.code == "passage_sealed"
    with pytest.raises(ReadloomError):
        sealer.opening(token[:-4] + "AAAA")


def test_sealing_is_deterministic(sealer: PassageSealer):
    """Re-ingesting the same text is recognised as unchanged (same sealed hash)."""
    assert sealer.seal(_passage())[0] == sealer.seal(_passage())[0]
