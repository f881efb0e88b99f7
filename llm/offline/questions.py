"""Comprehension questions from a passage, rule-based and deterministic.

Candidates of every type are read off the spaCy parse (``clauses``, ``vocabulary``,
plus main idea and a plain "what" fallback here), then picked round-robin across
types, so a set of five already mixes literal, causal, vocabulary and main-idea
questions. Near-duplicates are skipped and evidence sentences are spread out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace

from readloom.llm.offline.clauses import causal, literal, narrative_sequence, sequence
from readloom.llm.offline.nlp import (
    DEFAULT_MODEL,
    FUNCTION_WORDS,
    Sentence,
    content_lemmas,
    is_content,
    norm,
    parse,
)
from readloom.llm.offline.passage import Candidate, PassageView
from readloom.llm.offline.syntax import noun_phrase_ids, render
from readloom.llm.offline.vocabulary import vocabulary
from readloom.state import Question, QuestionSet, QuestionType

SKILLS: dict[str, str] = {
    "who": "ask_answer_questions",
    "what": "ask_answer_questions",
    "where": "ask_answer_questions",
    "when": "ask_answer_questions",
    "why": "cause_effect",
    "vocabulary": "vocab_in_context",
    "main_idea": "central_idea",
    "sequence": "sequence_events",
}
# First-round order: a set of five is already who, why, vocabulary, when, main idea.
TYPE_ORDER: tuple[QuestionType, ...] = (
    "who", "why", "vocabulary", "when", "main_idea", "what", "sequence", "where",
)  # fmt: skip
_SINGLETONS = frozenset({"main_idea"})
_DUPLICATE_OVERLAP = 0.8
MAX_COUNT = 50


def generate_questions(
    *, passage_title: str, passage_text: str, count: int, grade: int,
    types: Iterable[str] | None = None, model: str = DEFAULT_MODEL,
) -> QuestionSet:  # fmt: skip
    """Exactly ``count`` questions when the passage has material for them, else fewer."""
    count = max(0, min(count, MAX_COUNT))
    wanted = [t for t in TYPE_ORDER if types is None or t in set(types)] or list(TYPE_ORDER)
    if count == 0 or not passage_text.strip():
        return QuestionSet(questions=[])
    view = PassageView(passage_title.strip(), passage_text, grade, model)
    pools = {t: _ranked(_fitted(view, _candidates(view, t))) for t in wanted}
    picked = _select(view, pools, wanted, count)
    return QuestionSet(
        questions=[
            Question(
                question=" ".join(c.question.split()),  # hard-wrapped text: no line breaks
                type=c.type,
                answer=" ".join(c.answer.split()),
                evidence=view.sentences[c.sentence].text,
                skill=SKILLS[c.type],
            )
            for c in picked
        ]
    )


def _candidates(view: PassageView, qtype: QuestionType) -> Iterator[Candidate]:
    if qtype == "vocabulary":
        yield from vocabulary(view)
        return
    if qtype == "main_idea":
        yield from main_idea(view)
        return
    for s in view.sentences:
        if qtype == "why":
            yield from causal(view, s)
        elif qtype == "sequence":
            yield from sequence(view, s)
            yield from narrative_sequence(view, s)
        else:
            yield from (c for c in literal(view, s) if c.type == qtype)
            if qtype == "what":
                yield from _about(view, s)


def _fitted(view: PassageView, cands: Iterable[Candidate]) -> Iterator[Candidate]:
    """Young readers get the shorter of two otherwise equal questions."""
    for c in cands:
        extra = max(0, len(c.question.split()) - 8) if view.young and c.type != "vocabulary" else 0
        yield replace(c, score=c.score - 0.02 * extra) if extra else c


def _ranked(cands: Iterable[Candidate]) -> list[Candidate]:
    """Best first, one candidate per question text; ties broken by position, then text."""
    unique: dict[str, Candidate] = {}
    for c in cands:
        key = c.question.lower()
        if key not in unique or c.score > unique[key].score:
            unique[key] = c
    ranked = sorted(unique.values(), key=lambda c: (-c.score, c.sentence, c.question))
    return ranked


def _select(
    view: PassageView, pools: dict[QuestionType, list[Candidate]], order: list[QuestionType],
    count: int,
) -> list[Candidate]:  # fmt: skip
    """Round-robin over types; within a round, relax spreading rules only when needed."""
    picked: list[Candidate] = []
    signatures: list[set[str]] = []
    levels = ((1, True), (2, True), (3, False), (count, False))
    round_no = 0
    while len(picked) < count:
        round_no += 1
        added = False
        for qtype in order:
            if len(picked) >= count:
                break
            if sum(p.type == qtype for p in picked) >= round_no:
                continue
            if qtype in _SINGLETONS and round_no > 1:
                continue
            for per_sentence, unique_answers in levels:
                cand = next(
                    (
                        c
                        for c in pools[qtype]
                        if c not in picked
                        and _allowed(view, c, picked, signatures, per_sentence, unique_answers)
                    ),
                    None,
                )
                if cand is not None:
                    picked.append(cand)
                    signatures.append(_signature(view, cand.question))
                    added = True
                    break
        if not added:
            break
    return picked


def _allowed(
    view: PassageView, cand: Candidate, picked: list[Candidate], signatures: list[set[str]],
    per_sentence: int, unique_answers: bool,
) -> bool:  # fmt: skip
    if cand.type not in _SINGLETONS:
        same = [p for p in picked if p.type not in _SINGLETONS]
        if sum(p.sentence == cand.sentence for p in same) >= per_sentence:
            return False
        answer = cand.answer.lower().strip(" .")
        if unique_answers and any(p.answer.lower().strip(" .") == answer for p in same):
            return False
    sig = _signature(view, cand.question)
    return not any(_overlap(sig, other) >= _DUPLICATE_OVERLAP for other in signatures)


def _signature(view: PassageView, question: str) -> set[str]:
    """Content words, crudely stemmed: the evaluator's notion of a near-duplicate."""
    words = re.findall(r"[a-z0-9']+", question.lower())
    return {_stem(w) for w in words if w not in FUNCTION_WORDS and len(w) > 1}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


# --- main idea -----------------------------------------------------------------------


def main_idea(view: PassageView) -> Iterator[Candidate]:
    """The sentence most like the rest of the passage and its title (set-cosine centrality)."""
    sents = [s for s in view.sentences if view.usable(s) and 4 <= len(s.text.split()) <= 35]
    if len(view.sentences) < 3 or not sents:
        return
    bags = {s.index: set(content_lemmas(s.span)) for s in view.sentences}
    title = set(content_lemmas(parse(view.title, view.model, light=True))) if view.title else set()
    first_of_paragraph = {s.index for s in view.sentences if _opens_paragraph(view, s.index)}
    frequency = Counter(lemma for bag in bags.values() for lemma in bag)
    topic = {lemma for lemma, n in frequency.most_common(3) if n >= 2}
    scored: list[tuple[float, int]] = []
    for s in sents:
        bag = bags[s.index]
        if not bag:
            continue
        sims = [
            len(bag & other) / math.sqrt(len(bag) * len(other))
            for idx, other in bags.items()
            if idx != s.index and other
        ]
        centrality = sum(sims) / max(1, len(sims))
        title_share = len(bag & title) / len(title) if title else 0.0
        topic_share = len(bag & topic) / len(topic) if topic else 0.0
        bonus = (0.2 if s.index == sents[0].index else 0.0) + (
            0.05 if s.index in first_of_paragraph else 0.0
        )
        if s.span[0].pos_ == "PRON":
            bonus -= 0.2  # "They live in rivers…" depends on an earlier sentence
        length = len(s.text.split())
        score = (
            centrality + 0.5 * title_share + 0.3 * topic_share + bonus - 0.01 * max(0, length - 20)
        )
        scored.append((score, s.index))
    if not scored:
        return
    score, index = max(scored, key=lambda x: (x[0], -x[1]))
    yield Candidate("main_idea", _main_idea_question(view), view.sentences[index].text, index, 1.0)


def _opens_paragraph(view: PassageView, index: int) -> bool:
    return index == 0 or view.sentences[index - 1].paragraph != view.sentences[index].paragraph


def _main_idea_question(view: PassageView) -> str:
    named = f'"{view.title}"' if view.title else "this passage"
    if view.young:
        return f"What is {named} mostly about?"
    if view.grade <= 5:
        return f"What is the main idea of {named}?"
    return f"What is the central idea of {named}?"


# --- plain "what" fallback -----------------------------------------------------------


def _about(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'What does the passage tell us about the captain?' answered by the sentence itself."""
    if not view.usable(s) or len(s.text.split()) < 5:
        return
    for tok in s.span:
        if tok.dep_ not in ("nsubj", "nsubjpass", "dobj") or tok.pos_ not in ("NOUN", "PROPN"):
            continue
        if not is_content(tok) or norm(tok) in FUNCTION_WORDS:
            continue
        ids = sorted(noun_phrase_ids(tok))
        while ids and view.doc[ids[0]].pos_ in ("ADV", "ADP", "CCONJ", "PUNCT"):
            ids.pop(0)
        topic = render(view.doc, ids)
        if not topic or len(topic.split()) > 5:
            continue
        lead = (
            "What does the story tell us about" if view.young else "What does the passage say about"
        )
        yield Candidate("what", f"{lead} {topic}?", s.text, s.index, 0.2)
        return
