"""Vocabulary-in-context candidates: a less common word and the clue the sentence gives.

"Less common" = not on the Dale-Chall familiar-word list, long, or with an academic
suffix; a word the sentence explains itself (an appositive, "which means", "or",
a dash, "such as") is preferred, and that explanation becomes the answer. Otherwise the
answer is the dictionary meaning in the sentence's sense (``meanings``); a word with
neither is not asked about: a question whose answer no child can match is no question.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from spacy.tokens import Token

from readloom.llm.offline.meanings import meaning
from readloom.llm.offline.nlp import TIME_NOUNS, Sentence, easy_words, syllables, word_rarity
from readloom.llm.offline.passage import Candidate, PassageView
from readloom.llm.offline.syntax import phrase, subtree_ids

_POS = frozenset({"NOUN", "VERB", "ADJ", "ADV"})
_ACADEMIC = ("tion", "sion", "ous", "ity", "ize", "ise", "ment", "ance", "ence", "ive", "ary",
             "ible", "able", "ist", "ular", "ate", "ic", "al")  # fmt: skip
_DEFINERS = (
    re.compile(r"^\s*,?\s*(?:which|that) means\s+([^,.;:!?]+)"),
    re.compile(r"^\s*,\s*or\s+([^,.;:!?]+),"),
    re.compile(r"^\s*\(([^)]{3,60})\)"),
    re.compile(r"^\s*(?:—|–|--)\s*([^,.;:!?—–]+)"),
    re.compile(r"^\s*,?\s*(?:also )?(?:called|known as)\s+([^,.;:!?]+)"),
    re.compile(
        r"^\s*,\s*((?:someone|something|somebody|a person|a place|an animal|a thing|"
        r"a kind of|a type of)\b[^.;:!?]+)"
    ),
)
_MIN_RARITY = (0.3, 0.3, 0.4)  # by grade band: K-2, 3-5, 6+
_MIN_LETTERS = {True: 5, False: 6}  # young grades: shorter words already count as new


_LOOKUPS = 10  # dictionary look-ups per passage, best-scored words first


def vocabulary(view: PassageView) -> Iterator[Candidate]:
    """One candidate per distinct word (its best sentence) that has a meaning, best first."""
    best: dict[str, tuple[Candidate, Token, str | None]] = {}
    counts = Counter(t.lemma_.lower() for t in view.doc if t.is_alpha)
    title = {w.lower() for w in view.title.split()}
    for s in view.sentences:
        if not view.usable(s):
            continue
        for tok in s.span:
            topic = counts[tok.lemma_.lower()] >= 3 or tok.lower_ in title
            rarity = None if topic else _rarity(view, tok)
            if rarity is None:
                continue
            clue = _clue(view, tok, s)
            words = len(s.text.split())
            score = (
                rarity + (0.6 if clue else 0.0) - max(0, words - (15 if view.young else 25)) * 0.03
            )
            cand = Candidate("vocabulary", _question(view, tok, s), clue or "", s.index, score)
            key = tok.lemma_.lower()
            if key not in best or cand.score > best[key][0].score:
                best[key] = (cand, tok, clue)
    ranked = sorted(best.values(), key=lambda x: (-x[0].score, x[0].sentence, x[0].question))
    for cand, tok, clue in ranked[:_LOOKUPS]:
        if clue:
            yield cand  # the passage's own explanation: read straight from the text
            continue
        sense = meaning(tok.text, tok.lemma_, tok.pos_, view.sentences[cand.sentence].text)
        if sense:
            yield replace(cand, answer=sense, level="inference")


def _rarity(view: PassageView, tok: Token) -> float | None:
    word, lemma = tok.lower_, tok.lemma_.lower()
    if tok.pos_ not in _POS or not tok.is_alpha or not tok.text.islower() or tok.ent_type_:
        return None
    if len(word) < _MIN_LETTERS[view.young] or lemma in TIME_NOUNS:
        return None
    easy = easy_words()
    if word in easy or lemma in easy or _compound_of_easy(word, easy):
        return None
    if _inflected_easy(word, easy):
        return None
    academic = 1.0 if word.endswith(_ACADEMIC) else 0.0
    shape = 0.5 * min(len(word), 12) / 12 + 0.3 * min(syllables(word), 4) / 4 + 0.2 * academic
    rarity = 0.6 * min(word_rarity(word), word_rarity(lemma)) + 0.4 * shape
    return rarity if rarity >= _MIN_RARITY[min(view.grade, 6) // 3] else None


def _inflected_easy(word: str, easy: frozenset[str], depth: int = 2) -> bool:
    """'builders', 'fishing', 'proudly': an inflection of a familiar word is familiar."""
    if depth == 0:
        return False
    for suffix in ("ing", "ed", "es", "s", "er", "est", "ly"):
        stem = word[: -len(suffix)]
        if not word.endswith(suffix) or len(stem) < 3:
            continue
        doubled = stem[-1:] == stem[-2:-1] and stem[:-1] in easy
        if stem in easy or stem + "e" in easy or doubled or _inflected_easy(stem, easy, depth - 1):
            return True
    return False


def _compound_of_easy(word: str, easy: frozenset[str]) -> bool:
    """'lighthouse', 'sunlight': two familiar words make a familiar compound."""
    return any(word[:k] in easy and word[k:] in easy for k in range(3, len(word) - 2))


def _clue(view: PassageView, tok: Token, s: Sentence) -> str | None:
    """Words in the sentence that explain ``tok``, copied from the text."""
    for child in tok.children:
        if child.dep_ == "appos" and child.pos_ in ("NOUN", "PROPN"):
            return phrase(view.doc, subtree_ids(child))
    after = view.text[tok.idx + len(tok.text) : s.end]
    for pattern in _DEFINERS:
        match = pattern.match(after)
        if match and 1 <= len(match.group(1).split()) <= 12:
            return match.group(1).strip()
    for child in tok.children:
        if (
            child.dep_ == "prep"
            and child.lower_ == "as"
            and any(c.lower_ == "such" for c in child.children)
        ):
            return phrase(view.doc, subtree_ids(child))
    if tok.dep_ in ("nsubj", "nsubjpass") and tok.head.lemma_ in ("be", "mean"):
        attr = next((c for c in tok.head.children if c.dep_ in ("attr", "dobj")), None)
        if attr is not None:
            return phrase(view.doc, subtree_ids(attr))
    return None


def _question(view: PassageView, tok: Token, s: Sentence) -> str:
    text = s.text.rstrip(".!?")
    if len(text.split()) <= (12 if view.young else 18):
        where = f'the sentence "{text}"'
    else:
        reach = 3 if view.young else 5
        where = f'the part that says "…{_context(view, tok, s, reach)}…"'
    if view.young:
        return f'What does the word "{tok.text}" mean in {where}?'
    return f'In {where}, what does the word "{tok.text}" mean?'


def _context(view: PassageView, tok: Token, s: Sentence, reach: int = 5) -> str:
    """The words around ``tok`` up to the nearest punctuation, at most ``reach`` each side."""
    lo = hi = tok.i
    while lo - 1 >= s.span.start and tok.i - lo < reach and not view.doc[lo - 1].is_punct:
        lo -= 1
    while hi + 1 < s.span.end and hi - tok.i < reach and not view.doc[hi + 1].is_punct:
        hi += 1
    return phrase(view.doc, range(lo, hi + 1))
