"""A long text is analysed in paragraph pieces: the same findings at the same offsets, and
the analyser (one lock shared with every turn's check) is free between two pieces."""

from __future__ import annotations

import threading
import time

from readloom.guardrails.pii import PIECE_CHARS, _pieces

PARAGRAPHS = [
    "Maria Lopez walked to the harbour before school. The gulls were loud that morning.",
    "Her teacher, Mr. Okafor, had asked the class to count the boats in the bay.",
    "Call my mum on 555-201-7788 if I am late, Maria told her friend Tobias Grant.",
]
FILLER = "The tide came in slowly over the rocks, and the boats rocked on their ropes. " * 8


def _long_text(paragraphs: int) -> str:
    blocks = []
    for i in range(paragraphs):
        blocks.append(PARAGRAPHS[i % len(PARAGRAPHS)] + " " + FILLER.strip())
    return "\n\n".join(blocks)


def test_pieces_cover_the_text_at_paragraph_ends():
    text = _long_text(30)
    pieces = _pieces(text)
    assert len(pieces) > 1
    assert "".join(p for _, p in pieces) == text
    for offset, piece in pieces:
        assert text[offset : offset + len(piece)] == piece
        assert len(piece) <= PIECE_CHARS
    assert all(text[o - 2 : o] == "\n\n" for o, _ in pieces[1:])  # cut at paragraph ends


def test_a_paragraph_longer_than_a_piece_is_cut_at_a_sentence_end():
    text = FILLER * 10  # one paragraph, no line breaks
    pieces = _pieces(text)
    assert "".join(p for _, p in pieces) == text
    assert len(pieces) > 1 and all(p.rstrip().endswith(".") for _, p in pieces[:-1])
    assert _pieces("short") == [(0, "short")]


def test_long_text_findings_match_each_paragraph_analysed_alone(redactor):
    text = _long_text(12)
    whole = redactor.analyze(text)
    expected = []
    offset = 0
    for block in text.split("\n\n"):
        expected += [
            (f.entity_type, f.start + offset, f.end + offset) for f in redactor.analyze(block)
        ]
        offset += len(block) + 2
    assert [(f.entity_type, f.start, f.end) for f in whole] == expected
    values = {text[f.start : f.end] for f in whole}
    assert {"Maria Lopez", "Tobias Grant", "555-201-7788"} <= values


def test_a_short_check_runs_while_a_long_text_is_analysed(redactor):
    text = _long_text(120)  # about 60,000 characters
    assert len(text) > 50_000
    done = threading.Event()

    def long_analysis() -> None:
        redactor.analyze(text)
        done.set()

    worker = threading.Thread(target=long_analysis, daemon=True)
    worker.start()
    time.sleep(0.3)  # the long analysis has begun
    quick = []
    for i in range(5):  # bounded: a child's messages sent meanwhile
        redactor.analyze(f"my name is Priya and I am {i + 8}")
        quick.append(done.is_set())
    worker.join(timeout=300)
    assert done.is_set()
    assert quick.count(False) >= 4  # answered between pieces, not after the whole text


def test_an_upload_analysed_in_the_background_waits_between_pieces_for_a_turn(
    redactor, monkeypatch
):
    from readloom import foreground
    from readloom.guardrails import pii

    waits: list[tuple[float, float]] = []  # (worked before, seconds spent) per step aside
    real = foreground.step_aside

    def recorded(at_least_s: float = 0.0, *, worked_s: float = 0.0) -> float:
        spent = real(at_least_s, worked_s=worked_s)
        waits.append((worked_s, spent))
        return spent

    monkeypatch.setattr(pii, "step_aside", recorded)
    text = _long_text(12) + "\n\nThe end of a long story."  # another text: no cached findings
    pieces = len(pii._pieces(text))
    assert pieces >= 3

    def upload() -> None:
        with foreground.background():
            redactor.analyze(text)

    with foreground.turn():  # a child's turn in flight the whole time
        worker = threading.Thread(target=upload)
        worker.start()
        worker.join(timeout=120)
    assert not worker.is_alive()
    assert len(waits) == pieces - 1
    assert all(worked > 0 for worked, _ in waits)
    assert all(spent >= foreground.MIN_WAIT_S for _, spent in waits)  # it stepped aside
