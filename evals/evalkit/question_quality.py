"""Question-quality measures against FairytaleQA's experts, per section: ROUGE-L, type mix,
inference share, placeholder and dangling answers, distractor validity, main-idea agreement.

Generation is per val section with as many questions as the experts wrote for it (local
questions on that section alone), as the issue that asked for these measures did. The
checks here are regexes and set arithmetic written for the eval, independent of the
generator's own validators (a check must not grade itself).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from evalkit.fairytaleqa import ELEMENTS, Story
from evalkit.text import best_rouge_l, content_words, normalized

# our type -> the FairytaleQA element it asks about (others count as "other")
ELEMENT_OF = {
    "character": "character", "setting": "setting", "action": "action", "feeling": "feeling",
    "causal_relationship": "causal relationship", "outcome_resolution": "outcome resolution",
    "prediction": "prediction", "who": "character", "where": "setting", "when": "setting",
    "what": "action", "why": "causal relationship",
}  # fmt: skip
PLACEHOLDER = re.compile(
    r"fits the clue|a thing or idea|a describing word|an action that|\.\.\.|…", re.I
)
_PRONOUN_START = re.compile(r"^(?:he|she|it|they|him|them|this|that|these|those|such)\b", re.I)
# "her head" stands alone when the question names whose ("What did the old woman shake?")
_POSSESSIVE_START = re.compile(r"^(?:his|her|its|their)\b", re.I)
_PRONOUN_IN_QUESTION = re.compile(r"\b(?:he|she|it|they|him|her|them|his|its|their)\b", re.I)
# "across these lands", "this fat": a demonstrative determiner ("that" is left out: it is
# mostly a conjunction or relative pronoun, "knew that the sparrow was a fairy")
_DEMONSTRATIVE_NP = re.compile(
    r"(?:^|\b(?:in|on|at|to|from|across|of|with|by|for|into|over|through)\s)(?:this|these|those)\s+[a-z]+",
    re.I,
)
_DANGLING_QUESTION = re.compile(r"\b(?:do|did|does) so\b|\b(?:this|that|it|them)\?$", re.I)


@dataclass
class Tally:
    rouge: list[float] = field(default_factory=list)
    rouge_unrelated: list[float] = field(default_factory=list)
    ours: Counter[str] = field(default_factory=Counter)
    experts: Counter[str] = field(default_factory=Counter)
    asked: int = 0
    inference: int = 0
    placeholder: int = 0
    dangling: int = 0
    with_choices: int = 0
    choices_valid: int = 0
    requested: int = 0
    sections: int = 0
    raw_types: Counter[str] = field(default_factory=Counter)


def local_questions(story: Story, section: int) -> list:
    return [q for q in story.questions if q.local and q.sections == (section,)]


def add_section(t: Tally, generated: list, refs: list, unrelated: list[str]) -> None:
    """One section: expert-centric ROUGE-L (each expert question's best generated match)."""
    t.sections += 1
    t.requested += len(refs)
    texts = [q.question for q in generated]
    for r in refs:
        t.rouge.append(best_rouge_l(r.question, texts) if texts else 0.0)
        if unrelated:
            t.rouge_unrelated.append(best_rouge_l(r.question, unrelated))
        t.experts[r.element or "other"] += 1
    for q in generated:
        t.ours[ELEMENT_OF.get(q.type, "other")] += 1
        t.raw_types[q.type] += 1
        count_question(t, q)


def count_question(t: Tally, q) -> None:
    t.asked += 1
    t.inference += getattr(q, "level", "literal") == "inference"
    t.placeholder += is_placeholder(q.answer)
    t.dangling += is_dangling(q.question, q.answer)


def is_placeholder(answer: str) -> bool:
    return not answer.strip() or bool(PLACEHOLDER.search(answer))


def is_dangling(question: str, answer: str) -> bool:
    """An answer that starts with a bare pronoun or points with 'this/that' at nothing it
    names, or a question ending on one ('What promised to do so?')."""
    a = answer.strip()
    owner_unnamed = _POSSESSIVE_START.match(a) and _PRONOUN_IN_QUESTION.search(question)
    return bool(
        _PRONOUN_START.match(a)
        or owner_unnamed
        or _DEMONSTRATIVE_NP.search(a)
        or _DANGLING_QUESTION.search(question)
    )


def distractors_valid(q, passage_text: str) -> bool:
    """Four options, the answer once, three distinct others that are not the answer nor a
    paraphrase of it (no shared content word)."""
    choices = list(q.choices or [])
    if len(choices) != 4 or choices.count(q.answer) != 1:
        return False
    others = [c for c in choices if c != q.answer]
    if len({normalized(c) for c in others}) != 3:
        return False
    answer_words = content_words(q.answer)
    return all(not (content_words(c) & answer_words) and normalized(c) for c in others)


def type_mix_distance(ours: Counter[str], experts: Counter[str]) -> float | None:
    """Total variation distance between the two element distributions (0 = same mix)."""
    keys = set(ELEMENTS) | {"other"}
    n_ours, n_exp = sum(ours.values()), sum(experts.values())
    if not n_ours or not n_exp:
        return None
    return round(0.5 * sum(abs(ours[k] / n_ours - experts[k] / n_exp) for k in keys), 4)


def mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def rate(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def main_idea_agreement(answers: list[str], firsts: list[str], expert_answers: list[list[str]]):
    """Cosine (embedding model) of a main-idea answer with the centroid of the experts'
    answers on the same sections, against the same for the passage's first sentence."""
    import numpy as np

    from readloom.retrieval.embeddings import embed

    ours, base = [], []
    for answer, first, refs in zip(answers, firsts, expert_answers, strict=True):
        if not refs:
            continue
        vecs = embed([answer, first, *refs])
        centroid = vecs[2:].mean(axis=0)
        centroid /= max(1e-9, float(np.linalg.norm(centroid)))
        ours.append(float(vecs[0] @ centroid))
        base.append(float(vecs[1] @ centroid))
    return mean(ours), mean(base), len(ours)
