"""Does a tutoring reply give the answer away? Lemma-level content-word overlap.

The answer's *key terms* are its content lemmas that the question does not already
contain ("Who climbed the tower?" / "Tobias" -> {tobias}). A reply leaks when it uses
a short answer's name, number or only key term, or most (by weight) of a longer
answer's key terms. Nouns, names and numbers weigh more than verbs: "think about what
he wanted" hints, "he wanted to see the harbor" tells.
"""

from __future__ import annotations

from dataclasses import dataclass

from readloom.llm.offline.nlp import (
    DEFAULT_MODEL,
    crude_stem,
    is_content,
    is_placeholder,
    norm,
    parse,
)

_WEIGHTS = {"PROPN": 3.0, "NUM": 3.0, "NOUN": 3.0, "ADJ": 2.0, "VERB": 1.0, "ADV": 1.0}
_ESSENTIAL = frozenset({"PROPN", "NUM"})
_SHORT_ANSWER_TERMS = 3
LEAK_COVERAGE = 0.5


@dataclass(frozen=True)
class KeyTerm:
    lemma: str
    surface: str
    pos: str

    @property
    def weight(self) -> float:
        return _WEIGHTS.get(self.pos, 1.0)


def key_terms(
    answer: str, question: str | None = None, *, model: str = DEFAULT_MODEL
) -> list[KeyTerm]:
    """Content words of the answer that the question does not already give away."""
    if not answer or not answer.strip():
        return []
    asked: set[str] = set()
    if question:
        qdoc = parse(question, model, light=True)
        asked = {norm(t) for t in qdoc} | {t.lower_ for t in qdoc}
    terms: dict[str, KeyTerm] = {}
    for tok in parse(answer, model, light=True):
        if not is_content(tok):
            continue
        lemma = norm(tok)
        if lemma in asked or tok.lower_ in asked or lemma in terms:
            continue
        pos = "PROPN" if is_placeholder(tok) else tok.pos_
        terms[lemma] = KeyTerm(lemma, tok.text if is_placeholder(tok) else tok.lower_, pos)
    return list(terms.values())


def mentioned(terms: list[KeyTerm], text: str, *, model: str = DEFAULT_MODEL) -> list[KeyTerm]:
    """The key terms that occur in ``text`` (as a lemma or as the answer's own word form)."""
    if not terms or not text:
        return []
    doc = parse(text, model, light=True)
    seen = {norm(t) for t in doc} | {t.lower_ for t in doc} | {t.text for t in doc}
    stems = {crude_stem(w) for w in seen}
    return [
        k for k in terms if k.lemma in seen or k.surface in seen or crude_stem(k.lemma) in stems
    ]


def answer_leaks(
    reply: str, answer: str, question: str | None = None, *, model: str = DEFAULT_MODEL
) -> bool:
    """True when ``reply`` states the answer (or its key content words).

    Pass ``question`` so that words the student has already read in the question do
    not count; without it every content word of the answer is a key term.
    """
    terms = key_terms(answer, question, model=model)
    if not terms:
        return False
    found = mentioned(terms, reply, model=model)
    if not found:
        return False
    if len(terms) <= _SHORT_ANSWER_TERMS and any(k.pos in _ESSENTIAL for k in found):
        return True
    total = sum(k.weight for k in terms)
    return sum(k.weight for k in found) / total >= LEAK_COVERAGE
