from __future__ import annotations

import pytest

from readloom.retrieval.chunking import chunk_text, paragraphs, sentences

DIALOGUE = "\n\n".join(
    ['"Hello," said Ana.', '"Hi!" said Ben.', '"Where are you going?"', '"To the market."']
    + ["Ana walked with Ben past the bakery, the bank and the big stone fountain."] * 3
)
LONG_PARAGRAPH = " ".join(
    f"Sentence {i} tells how Mr. Okafor planted seed number {i} in the long garden row."
    for i in range(40)
)
MIXED = f"A Title\n\n{LONG_PARAGRAPH}\n\n  \n\nShort end.\r\n\r\nLast words here."


@pytest.mark.parametrize("text", [DIALOGUE, LONG_PARAGRAPH, MIXED, "One line only.", ""])
@pytest.mark.parametrize("limits", [(200, 900), (50, 300), (10, 120)])
def test_offsets_round_trip(text: str, limits: tuple[int, int]) -> None:
    min_chars, max_chars = limits
    chunks = chunk_text(text, min_chars=min_chars, max_chars=max_chars)
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert len(chunk.text) <= max_chars
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))
    # Nothing but whitespace is left out between chunks.
    covered = "".join(c.text for c in chunks)
    assert "".join(covered.split()) == "".join(text.split())


def test_tiny_paragraphs_are_merged() -> None:
    chunks = chunk_text(DIALOGUE, min_chars=100, max_chars=900)
    assert len(chunks) < len(paragraphs(DIALOGUE))
    assert chunks[0].text.startswith('"Hello," said Ana.\n\n"Hi!" said Ben.')


def test_long_paragraph_splits_on_sentence_boundaries() -> None:
    chunks = chunk_text(LONG_PARAGRAPH, min_chars=100, max_chars=400)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith("Sentence ")
        assert chunk.text.endswith("row.")


def test_abbreviations_do_not_end_sentences() -> None:
    spans = sentences("Mr. Fox met Dr. Owl. They talked! Did they eat? Yes.")
    text = "Mr. Fox met Dr. Owl. They talked! Did they eat? Yes."
    assert [text[s:e] for s, e in spans] == [
        "Mr. Fox met Dr. Owl.",
        "They talked!",
        "Did they eat?",
        "Yes.",
    ]


def test_sentence_without_punctuation_is_wrapped_at_spaces() -> None:
    text = " ".join(["word"] * 100)
    chunks = chunk_text(text, min_chars=10, max_chars=50)
    assert len(chunks) > 1
    assert all(c.text.split() == ["word"] * len(c.text.split()) for c in chunks)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        chunk_text("text", min_chars=500, max_chars=100)
