"""Paragraph chunks with character offsets into the passage text.

Offsets let the evaluator check grounding against the passage itself:
``passage.text[chunk.start:chunk.end] == chunk.text`` always holds. Tiny paragraphs
(a line of dialogue) are merged with their neighbours; paragraphs too long for the
embedding model's window (256 word pieces, about 1,000 characters) are split on
sentence boundaries. Each sentence gets its own vector (see ``Plan``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_CHARS = 200
MAX_CHARS = 900

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends at . ! ? (or …) possibly followed by closing quotes or brackets.
_SENTENCE_END = re.compile(r"(?:[.!?…]+)[\"'”’)\]]*(?=\s+)")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "mt", "jr", "sr", "vs", "etc", "e.g", "i.e", "no", "prof"}
)


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    text: str


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank paragraph; paragraphs are split by blank lines."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append(_trimmed(text, cursor, match.start()))
        cursor = match.end()
    spans.append(_trimmed(text, cursor, len(text)))
    return [(s, e) for s, e in spans if e > s]


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text[start:end]``, offsets into ``text``."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        word = text[cursor : match.start()].rsplit(None, 1)
        last = word[-1].lower().rstrip(".") if word else ""
        if match.group().startswith(".") and last in _ABBREVIATIONS:
            continue
        spans.append(_trimmed(text, cursor, match.end()))
        cursor = match.end()
    spans.append(_trimmed(text, cursor, end))
    return [(s, e) for s, e in spans if e > s]


def _hard_wrap(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Split one over-long sentence at whitespace so no piece exceeds ``max_chars``."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars)
        if cut <= start:
            cut = start + max_chars
        pieces.append(_trimmed(text, start, cut))
        start, _ = _trimmed(text, cut, end)
    pieces.append((start, end))
    return [(s, e) for s, e in pieces if e > s]


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Pack whole sentences of a long paragraph into pieces of at most ``max_chars``."""
    units: list[tuple[int, int]] = []
    for s, e in sentences(text, start, end):
        units.extend(_hard_wrap(text, s, e, max_chars) if e - s > max_chars else [(s, e)])
    pieces: list[tuple[int, int]] = []
    for s, e in units:
        if pieces and e - pieces[-1][0] <= max_chars:
            pieces[-1] = (pieces[-1][0], e)
        else:
            pieces.append((s, e))
    return pieces


def chunk_text(
    text: str, *, min_chars: int | None = None, max_chars: int | None = None
) -> list[Chunk]:
    """Chunks of whole paragraphs (merged up to ``min_chars``, split above ``max_chars``)."""
    min_chars = MIN_CHARS if min_chars is None else min_chars
    max_chars = MAX_CHARS if max_chars is None else max_chars
    if min_chars > max_chars:
        raise ValueError("min_chars must not exceed max_chars")
    units: list[tuple[int, int]] = []
    for s, e in paragraphs(text):
        units.extend(_split_long(text, s, e, max_chars) if e - s > max_chars else [(s, e)])
    spans: list[tuple[int, int]] = []
    for s, e in units:
        if spans and spans[-1][1] - spans[-1][0] < min_chars and e - spans[-1][0] <= max_chars:
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    # A tiny last chunk joins the one before it when it fits.
    if (
        len(spans) > 1
        and spans[-1][1] - spans[-1][0] < min_chars
        and spans[-1][1] - spans[-2][0] <= max_chars
    ):
        spans[-2:] = [(spans[-2][0], spans[-1][1])]
    return [Chunk(index=i, start=s, end=e, text=text[s:e]) for i, (s, e) in enumerate(spans)]


@dataclass(frozen=True)
class Plan:
    """A passage cut into chunks, and each chunk into sentences, ready to embed.

    Only sentences are embedded: a question usually matches one sentence, which a
    whole-chunk vector blurs with the rest. A chunk's own vector is the mean of its
    sentence vectors (as good as embedding the chunk on FairytaleQA, and free).
    """

    chunks: list[Chunk]
    sentences: list[tuple[int, int, int]]  # chunk index, start, end (offsets into text)
    text: str

    def texts(self) -> list[str]:
        return [self.text[s:e] for _, s, e in self.sentences]


def plan(text: str) -> Plan:
    chunks = chunk_text(text)
    spans = [(c.index, s, e) for c in chunks for s, e in sentences(text, c.start, c.end)]
    return Plan(chunks=chunks, sentences=spans, text=text)
