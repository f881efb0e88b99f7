"""Pointing at the passage without giving the answer away.

Every quote is cut from the original excerpt by character offsets (so pseudonyms such
as ``<PERSON_1>`` and the author's spelling survive untouched) and stops before the
first word that belongs to the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Token

from readloom.llm.offline.leak import KeyTerm
from readloom.llm.offline.nlp import DEFAULT_MODEL, Sentence, content_lemmas, norm, parse
from readloom.llm.offline.nlp import passage_sentences as split_sentences

BLANK = "___"
_MARKERS = frozenset({"because", "so", "to", "since"})


@dataclass(frozen=True)
class Located:
    """Where the evidence sits: its excerpt, the sentence before it, and itself."""

    excerpt: str
    opening: Sentence | None  # first sentence of the excerpt
    before: Sentence | None  # the sentence just before the evidence
    evidence: Sentence | None


class TextRef:
    def __init__(self, excerpts: list[str], terms: list[KeyTerm], model: str = DEFAULT_MODEL):
        self.excerpts = [e for e in excerpts if e and e.strip()]
        self.model = model
        self._forbidden = {k.lemma for k in terms} | {k.surface for k in terms}
        self._safe: dict[str, bool] = {}

    # --- safety ------------------------------------------------------------------------

    def unsafe(self, tok: Token) -> bool:
        return bool(self._forbidden) and (
            norm(tok) in self._forbidden
            or tok.lower_ in self._forbidden
            or tok.text in self._forbidden
        )

    def safe(self, text: str) -> bool:
        if not self._forbidden or not text:
            return True
        if text not in self._safe:
            self._safe[text] = not any(self.unsafe(t) for t in parse(text, self.model, light=True))
        return self._safe[text]

    # --- finding places ----------------------------------------------------------------

    def locate(self, evidence: str | None, hint: str = "") -> Located | None:
        """The excerpt holding the evidence (or the one closest to ``hint``)."""
        if not self.excerpts:
            return None
        excerpt = None
        if evidence and evidence.strip():
            excerpt = next((e for e in self.excerpts if evidence.strip() in e), None)
        probe = evidence or hint
        if excerpt is None and probe:
            want = set(content_lemmas(parse(probe, self.model, light=True)))
            scored = [
                (len(want & set(content_lemmas(parse(e, self.model)))), -n, e)
                for n, e in enumerate(self.excerpts)
            ]
            excerpt = max(scored)[2]
        excerpt = excerpt or self.excerpts[0]
        sents = split_sentences(parse(excerpt, self.model))
        if not sents:
            return Located(excerpt, None, None, None)
        target = None
        if evidence and evidence.strip():
            target = next((s for s in sents if s.text == evidence.strip()), None)
            if target is None:
                target = _closest(sents, evidence, self.model)
        elif hint:
            target = _closest(sents, hint, self.model)
        before = sents[target.index - 1] if target is not None and target.index > 0 else None
        return Located(excerpt, sents[0], before, target)

    def opening_words(self, s: Sentence | None, max_words: int, mask: bool = False) -> str | None:
        """The first words of ``s`` (at least three), stopping before any answer word, or
        with ``mask`` writing each answer word as a blank."""
        if s is None:
            return None
        out: list[str] = []
        words = safe_words = 0
        for tok in s.span:
            if not tok.is_punct:
                words += 1
                if words > max_words:
                    break
            if self.unsafe(tok):
                if not mask:
                    break
                out.append(BLANK + tok.whitespace_)
                continue
            safe_words += 0 if tok.is_punct else 1
            out.append(tok.text_with_ws)
        text = "".join(out).rstrip(" ,;:-—.")
        return text if safe_words >= 3 or (safe_words >= 2 and words <= 2) else None

    def around_answer(
        self, s: Sentence, answer: str | None, max_words: int
    ) -> tuple[str, str] | None:
        """Words next to the answer inside its sentence: ("before", text) or ("after", text)."""
        text = s.text
        span = _find(text, answer)
        if span is None:
            return None
        lo, hi = span
        text = text.replace("\n", " ")
        before = text[:lo].rstrip(" ,;:")
        after = text[hi:].strip(" ,;:.!?")
        for side, part in (("before", before), ("after", after)):
            words = part.split()
            if len(words) < 3:
                continue
            cut = len(words) > max_words
            if side == "before":
                part = ("…" if cut else "") + " ".join(words[-max_words:])
            else:
                part = " ".join(words[:max_words]) + ("…" if cut else "")
            if self.safe(part):
                return side, part
        return None

    def blanked(self, s: Sentence, answer: str | None, max_words: int) -> str:
        """The sentence with the answer (and any other answer word) replaced by blanks."""
        text = s.text
        span = _find(text, answer)
        pieces: list[tuple[int, int, str]] = []
        if span is not None:
            lo, hi = span
            words = len(text[lo:hi].split())
            first = text[lo:hi].split()[0]
            kept = [first] if first.lower() in _MARKERS and words > 1 else []
            fill = " ".join([*kept, *[BLANK] * min(max(1, words - len(kept)), 4)])
            pieces.append((lo, hi, fill))
        base = s.span.start_char
        for tok in s.span:
            start = tok.idx - base
            if self.unsafe(tok) and not any(a <= start < b for a, b, _ in pieces):
                pieces.append((start, start + len(tok.text), BLANK))
        out = text
        for a, b, fill in sorted(pieces, reverse=True):
            out = out[:a] + fill + out[b:]
        out = re.sub(rf"{BLANK}(?:\s+{BLANK}){{4,}}", " ".join([BLANK] * 4), out)
        return _window(out, max_words)


def _find(text: str, answer: str | None) -> tuple[int, int] | None:
    """Where ``answer`` occurs in ``text``, ignoring case and line wrapping."""
    words = (answer or "").strip().rstrip(".").split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(w) for w in words), text, re.IGNORECASE)
    return None if match is None else match.span()


def _closest(sents: list[Sentence], probe: str, model: str) -> Sentence | None:
    want = set(content_lemmas(parse(probe, model, light=True)))
    if not want:
        return None
    best = max(sents, key=lambda s: (len(want & set(content_lemmas(s.span))), -s.index))
    return best if want & set(content_lemmas(best.span)) else None


def _window(text: str, max_words: int) -> str:
    """Trim a long sentence to ``max_words`` around its first blank."""
    words = text.split()
    if len(words) <= max_words:
        return text
    first = next((n for n, w in enumerate(words) if BLANK in w), 0)
    lo = max(0, min(first - max_words // 2, len(words) - max_words))
    part = " ".join(words[lo : lo + max_words])
    return ("…" if lo > 0 else "") + part + ("…" if lo + max_words < len(words) else "")
