"""Multiple-choice distractors: three wrong answers of the same kind, taken from the passage.

A distractor is plausible when it is the same kind of thing as the answer (a person
for a person, a feeling for a feeling, an action for an action, a meaning for a
meaning) and comes from the same passage; it is valid when it is not the answer and
shares no content word with it (so it is no paraphrase or synonym of it).
"""

from __future__ import annotations

from spacy.tokens import Doc

from readloom.llm.offline.narrative import EMOTIONS, TRAITS
from readloom.llm.offline.nlp import (
    content_lemmas,
    crude_stem,
    is_content,
    parse,
    stable_index,
)
from readloom.llm.offline.passage import Candidate, PassageView
from readloom.llm.offline.syntax import noun_phrase_ids, render

_FEELING_FILL = ("happy", "angry", "afraid", "proud", "lonely", "surprised", "sad", "calm")
_TRAIT_FILL = ("lazy", "brave", "greedy", "kind", "foolish", "honest")
_STRUCTURE_FILL = (
    "in time order (sequence)", "by cause and effect", "by comparing and contrasting",
    "as a problem and its solution", "by describing one topic",
)  # fmt: skip
N_DISTRACTORS = 3
# feelings that mean the same to a child: never one as the answer, another as a "wrong" option
_FEELING_GROUPS = tuple(
    frozenset(g.split())
    for g in (
        "happy glad joy joyful pleased delighted merry cheerful overjoyed content gladness "
        "happiness delight pleasure joyous",
        "sad unhappy sorrow sorrowful grief miserable wretched heartbroken gloomy glum sadness",
        "afraid fear frightened scared terrified fright terror fearful alarmed horrified",
        "angry anger furious rage enraged cross vexed annoyed",
        "surprised surprise astonished astonishment amazed amazement startled wonder",
    )
)


def _same_feeling(a: str, b: str) -> bool:
    wa, wb = set(a.lower().split()), set(b.lower().split())
    return any(wa & g and wb & g for g in _FEELING_GROUPS)


def pools(view: PassageView, cands: list[Candidate]) -> dict[str, list[str]]:
    """Phrases of each kind the passage offers, in passage order."""
    people: list[str] = []
    things: list[str] = []
    for tok in view.doc:
        if tok.dep_ not in ("nsubj", "dobj", "pobj") or tok.pos_ not in ("NOUN", "PROPN"):
            continue
        text = render(view.doc, noun_phrase_ids(tok))
        if not text or len(text.split()) > 5:
            continue
        (people if view.is_person(tok) else things).append(text)
    feelings = [t.lower_ for t in view.doc if t.lemma_.lower() in EMOTIONS]
    traits = [t.lower_ for t in view.doc if t.lemma_.lower() in TRAITS]
    return {
        "person": _unique(people),
        "thing": _unique(things),
        "feeling": _unique(feelings + list(_FEELING_FILL)),
        "trait": _unique(traits + list(_TRAIT_FILL)),
        "structure": list(_STRUCTURE_FILL),
        # answers of other questions on the same passage are the same shape as ours
        "action": _unique(
            c.answer
            for c in cands
            if c.type
            in ("action", "outcome_resolution", "prediction", "sequence", "key_detail")  # fmt: skip
        ),
        "cause": _unique(
            c.answer for c in cands if c.type in ("causal_relationship", "cause_effect")
        ),
        "meaning": _unique(c.answer for c in cands if c.type == "vocabulary"),
        "gist": _unique(c.answer for c in cands if c.type in ("main_idea", "theme")),
        "place": _unique(c.answer for c in cands if c.type == "setting"),
    }


def kind_of(cand: Candidate, view: PassageView) -> str:
    if cand.type == "feeling":
        return "feeling"
    if cand.type == "character" and cand.question.startswith("What"):
        return "trait"
    if cand.type == "text_structure":
        return "structure"
    if cand.type == "vocabulary":
        return "meaning"
    if cand.type in ("main_idea", "theme"):
        return "gist"
    if cand.type == "setting" and not _is_clause(cand.answer, view):
        return "place"
    if _is_clause(cand.answer, view):
        return "cause" if cand.type in ("causal_relationship", "cause_effect") else "action"
    return "person" if cand.question.startswith("Who") else "thing"


def _is_clause(text: str, view: PassageView) -> bool:
    """'ran to the bird', 'the electricity went out' (a verb) vs 'a dark, angry gray'."""
    return any(t.pos_ in ("VERB", "AUX") for t in parse(text, view.model, light=True))


def choose(cand: Candidate, kind: str, pool: dict[str, list[str]], view: PassageView) -> list[str]:
    """Three distractors, or none when the passage cannot offer three valid ones."""
    answer_words = _words(parse(cand.answer, view.model, light=True))
    question_words = set(content_lemmas(parse(cand.question, view.model, light=True)))
    options = pool.get(kind, []) + (pool["action"] if kind in ("cause", "gist") else [])
    clause = kind in ("action", "cause", "gist")
    options = [
        o for o in options if kind in ("meaning", "structure") or _is_clause(o, view) == clause
    ]
    picked: list[str] = []
    seen: list[set[str]] = []
    for text in options:
        low = text.lower().strip(" .")
        if low == cand.answer.lower().strip(" .") or any(low == p.lower() for p in picked):
            continue
        doc = parse(text, view.model, light=True)
        words = set(content_lemmas(doc))
        if _words(doc) & answer_words or (words and words <= question_words):
            continue  # a paraphrase of the answer, or a piece of the question
        if kind == "feeling" and _same_feeling(text, cand.answer):
            continue
        if any(words == other for other in seen):
            continue  # "looked happy" and "she looked happy" are one option
        seen.append(words)
        if abs(len(text.split()) - len(cand.answer.split())) > max(4, len(cand.answer.split())):
            continue
        picked.append(text)
        if len(picked) == N_DISTRACTORS:
            return picked
    return []


def _words(doc: Doc) -> set[str]:
    """Content words as lemmas and as written: the parser lemmatises a name one way alone
    and another inside a phrase ("Nils", "Charcoal Nils"), so either shared is the answer."""
    written = {t.lower_ for t in doc if is_content(t)}
    return set(content_lemmas(doc)) | written | {crude_stem(w) for w in written}


def with_choices(cand: Candidate, distractors: list[str]) -> list[str]:
    """The answer among its distractors at a stable, question-dependent position."""
    at = stable_index(N_DISTRACTORS + 1, cand.question)
    choices = list(distractors)
    choices.insert(at, cand.answer)
    return choices


def _unique(items) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
