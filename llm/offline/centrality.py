"""Main idea, theme, text structure and author's purpose: questions about the whole passage.

The main idea is the sentence closest (embedding cosine) to the passage's centroid and
its title — what the whole passage is about, not where it starts — condensed to its
main clause with pronouns named. A theme is asked only when the story states its
lesson; structure and purpose are read from signal words and the passage's kind.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import numpy as np

from readloom.llm.offline.narrative import person_named
from readloom.llm.offline.nlp import Sentence
from readloom.llm.offline.passage import Candidate, PassageView
from readloom.llm.offline.standalone import bare_name, resolved
from readloom.llm.offline.syntax import analyse, phrase, subject_of, subtree_ids

_LESSON = re.compile(r"\b(?:lesson|moral|learn(?:ed|t)|never again|from that day)\b", re.I)
_STRUCTURES: dict[str, re.Pattern[str]] = {
    "in time order (sequence)": re.compile(
        r"\b(?:first|then|next|after|finally|later|before|last|soon|years? ago)\b", re.I
    ),
    "by cause and effect": re.compile(
        r"\b(?:because|so|as a result|therefore|causes?d?|leads? to|due to)\b", re.I
    ),
    "by comparing and contrasting": re.compile(
        r"\b(?:but|however|unlike|like|both|while|whereas|instead|than|different|same)\b", re.I
    ),
    "as a problem and its solution": re.compile(
        r"\b(?:problem|solve[ds]?|solution|answer|fix(?:ed)?|help(?:s|ed)?)\b", re.I
    ),
}
_GENERAL = re.compile(
    r"\b(?:ways?|many|kinds?|types?|different|important|every|all|shows?|"
    r"because|main|most|helps?)\b",
    re.I,
)
_DETAIL = re.compile(r"\b(?:too|also|another|for example|for instance|such as)\b", re.I)
_DETAIL_START = frozenset("when because if to as before after while some during now".split())
_DETAIL_ENTITIES = frozenset({"CARDINAL", "DATE", "QUANTITY", "PERCENT", "TIME", "MONEY"})
_TOPIC_TRIES = 2  # past the two likeliest topic sentences, the central sentence does better
_TOPIC_WORDS = 5
_SAYS = frozenset("show prove mean explain teach remind".split())
_MIN_SENTENCES = 3
_MIN_MAIN_IDEA = 8  # a few sentences have no main idea beyond themselves
# verbs that tell of no deed a story turns on ("The King set out", "The Giant came back")
_SLIGHT = frozenset(
    "be have say answer reply ask come go set get begin seem look pass sit stand live "
    "become remain lie keep let".split()
)


def main_idea(view: PassageView, narrative: bool = True) -> Iterator[Candidate]:
    """A story's most central sentence, or an informational text's topic sentence,
    condensed (never the first sentence by default)."""
    sents = [s for s in view.sentences if view.usable(s) and 5 <= len(s.text.split()) <= 40]
    if len(view.sentences) < _MIN_MAIN_IDEA or not sents:
        return
    vectors = _embedded(view)  # one embedding call serves both paths
    if not narrative:
        for s in _topic_sentences(view, sents, vectors)[:_TOPIC_TRIES]:
            answer = _topic_gist(view, s)
            if answer and len(answer.split()) < 0.8 * len(s.text.split()):
                yield Candidate("main_idea", _main_idea_question(view), answer, s.index, 1.0,
                                "inference")  # fmt: skip
                return
    hero = _main_character(view) if narrative else None
    if narrative and hero is None:
        return  # a story with no one at its centre: its central sentence is one event
    for s in _central(view, sents, vectors)[: 8 if narrative else 4]:
        if narrative and not _hero_acts(view, s, hero):
            continue
        answer = _gist(view, s)
        if answer and len(answer.split()) < 0.8 * len(s.text.split()):  # condensed, not copied
            yield Candidate("main_idea", _main_idea_question(view), answer, s.index, 1.0,
                            "inference")  # fmt: skip
            return


def _main_character(view: PassageView) -> str | None:
    """Who the story is about: the person who is most often the one doing things (named
    or as a pronoun the passage resolves), when that is clear (three times, and more
    often than anyone else)."""
    counts = Counter(
        bare_name(name)
        for tok in view.doc
        if tok.dep_ == "nsubj" and tok.head.pos_ == "VERB"
        and (name := person_named(view, tok.head)) is not None
    )  # fmt: skip
    top = counts.most_common(2)
    if not top or top[0][1] < 3 or (len(top) > 1 and top[1][1] == top[0][1]):
        return None
    return top[0][0]


def _hero_acts(view: PassageView, s: Sentence, hero: str | None) -> bool:
    """A story's main idea says what its main character does: the central sentence
    "The years passed happily away" or "The old woman answered" is no story's point."""
    root = s.span.root
    if root.pos_ != "VERB" or root.lemma_ in _SLIGHT or hero is None:
        return False
    if any(c.dep_ == "neg" for c in root.children):
        return False  # "The girl did not speak for a moment": nothing happened
    name = person_named(view, root)
    return name is not None and hero in bare_name(name)


def _embedded(view: PassageView) -> np.ndarray:
    """The vectors of every sentence of the passage, then of its title when it has one."""
    from readloom.retrieval.embeddings import embed_sentences as embed

    return embed([s.text for s in view.sentences] + ([view.title] if view.title else []))


def _central(view: PassageView, sents: list[Sentence], vectors: np.ndarray) -> list[Sentence]:
    body = vectors[: len(view.sentences)]
    centroid = body.mean(axis=0)
    if view.title:
        centroid = centroid + 0.5 * vectors[-1]
    centroid /= max(1e-9, float(np.linalg.norm(centroid)))
    scored = []
    for s in sents:
        score = float(body[s.index] @ centroid)
        if s.span[0].pos_ == "PRON":
            score -= 0.05  # leans on an earlier sentence
        score -= 0.004 * max(0, len(s.text.split()) - 25)
        scored.append((score, -s.index, s))
    return [s for _, _, s in sorted(scored, key=lambda x: (x[0], x[1]), reverse=True)]


def _topic_sentences(
    view: PassageView, sents: list[Sentence], vectors: np.ndarray
) -> list[Sentence]:
    """Informational text states its main idea in a topic sentence: close to the whole
    passage and its title, in the opening or closing paragraph, general (present tense,
    "ways", "many", "shows"), not a supporting detail ("Some seeds…", "…too", a number, a
    date, one person). Scored on the shipped passages; the hand-judged sample shows it."""
    body = vectors[: len(view.sentences)]
    centroid = body.mean(axis=0)
    centroid /= max(1e-9, float(np.linalg.norm(centroid)))
    title = vectors[-1] / max(1e-9, float(np.linalg.norm(vectors[-1]))) if view.title else None
    last = max(s.paragraph for s in view.sentences)
    scored = []
    for s in sents:
        v = body[s.index]
        score = (
            float(v @ centroid)
            if title is None
            else 0.7 * float(v @ centroid) + 0.3 * float(v @ title)
        )
        if s.paragraph == last and last > 0:
            score += 0.10  # the conclusion
        elif s.paragraph == 0 and s.index > 0:
            score += 0.06  # the introduction, after its hook
        root, first = s.span.root, s.span[0]
        if root.tag_ in ("VBZ", "VBP") or any(c.tag_ == "MD" for c in root.children):
            score += 0.05
        if _GENERAL.search(s.text):
            score += 0.04
        if first.lower_ in _DETAIL_START or _DETAIL.search(s.text):
            score -= 0.06
        labels = {e.label_ for e in s.span.ents}
        if labels & _DETAIL_ENTITIES:
            score -= 0.10
        if "PERSON" in labels:
            score -= 0.05
        if first.pos_ == "PRON" or first.lower_ in ("this", "that", "these", "those"):
            score -= 0.05
        scored.append((score, -s.index, s))
    return [s for _, _, s in sorted(scored, key=lambda x: (x[0], x[1]), reverse=True)]


def _topic_gist(view: PassageView, s: Sentence) -> str | None:
    """The point of a topic sentence: what "X shows that …" shows, the clause after "but",
    its main clause otherwise; the verbs' trailing phrases dropped until it is no copy."""
    root = head = s.span.root
    if root.lemma_ in _SAYS:
        head = next((c for c in root.children if c.dep_ == "ccomp"), root)
    conj = [c for c in root.children if c.dep_ == "conj" and c.pos_ in ("VERB", "AUX")]
    if head is root and conj and any(c.dep_ == "cc" and c.lower_ == "but" for c in root.children):
        head = conj[0]
    clause = analyse(head, drop=[c for c in head.children if c.dep_ in ("advcl", "parataxis")])
    if clause is None:
        return None
    doc, subj = view.doc, clause.subject
    first = subject_of(root)
    if head is not root and subj.pos_ == "PRON" and first is not None and first.pos_ != "PRON":
        subj = first  # "A bridge may look still, but it is balancing…": the bridge is
    subject = resolved(view, subtree_ids(subj))
    rest = set(clause.ids) - set(clause.subject_ids)
    if subject is None or _leans(view, rest):
        return None
    own = "their" if subj.tag_ in ("NNS", "NNPS") else "its"
    for i in [i for i in rest if doc[i].dep_ == "poss" and doc[i].lower_ == own]:
        if i + 1 < len(doc) and doc[i + 1].lower_ == "own":
            return None
        rest.discard(i)  # "plants send their seeds" -> "plants send seeds": said once
    preps = sorted(  # phrases on the verbs only: "most of the work" keeps its "of"
        (i for i in rest if doc[i].dep_ == "prep" and doc[i].head.pos_ in ("VERB", "AUX")),
        reverse=True,
    )
    limit = 0.8 * len(s.text.split())

    def text() -> str | None:
        tail = resolved(view, rest, subject)
        return f"{subject} {tail}" if tail else None

    made = text()
    while made and len(made.split()) >= limit and preps:
        rest -= subtree_ids(doc[preps.pop(0)])
        made = text()
    if not made or not _TOPIC_WORDS <= len(made.split()) <= 16:
        return None  # "The young frog hops" says no idea
    return made[:1].upper() + made[1:]


def _gist(view: PassageView, s: Sentence) -> str | None:
    """The sentence's main clause, subordinate clauses dropped, pronouns named (a thing's
    "it" or "them" is not: "resistant to it" named "the warning" where it meant penicillin)."""
    root = s.span.root
    clause = analyse(root, drop=[c for c in root.children if c.dep_ in ("advcl", "parataxis")])
    if clause is None or _leans(view, clause.ids - clause.subject_ids):
        return None
    subject = resolved(view, clause.subject_ids)
    text = resolved(view, clause.ids, subject)
    if not text or len(text.split()) < 4:
        return None
    words = text.split()
    if len(words) > 16:
        return None
    return text[:1].upper() + text[1:]


def _leans(view: PassageView, ids: set[int]) -> bool:
    """A thing's pronoun after the verb: a gist that leans on another sentence."""
    return any(view.doc[i].lower_ in ("it", "them", "they") for i in ids)


def _main_idea_question(view: PassageView) -> str:
    named = f'"{view.title}"' if view.title else "this passage"
    if view.young:
        return f"What is {named} mostly about?"
    if view.grade <= 5:
        return f"What is the main idea of {named}?"
    return f"What is the central idea of {named}?"


def theme(view: PassageView) -> Iterator[Candidate]:
    """Only when the story says its lesson ("she learned that…", "the moral is…")."""
    for s in view.sentences:
        if not _LESSON.search(s.text) or not view.usable(s):
            continue
        for tok in s.span:
            if tok.lemma_ == "learn" or tok.lower_ in ("lesson", "moral"):
                comp = next((c for c in tok.children if c.dep_ in ("ccomp", "dobj", "attr")), None)
                if comp is None:
                    continue
                text = resolved(view, {t.i for t in comp.subtree} - {tok.i})
                if text and 3 <= len(text.split()) <= 14:
                    q = "What lesson does the story teach?"
                    yield Candidate("theme", q, text, s.index, 0.9, "inference")
                    return
    yield from _maxim(view)
    yield from _told_lesson(view)


def _told_lesson(view: PassageView) -> Iterator[Candidate]:
    """A story told in the past that stops, outside any speech, to say something true in
    the present ("A messy day can still be a good day."): the lesson in its own words."""
    if not view.told:
        return
    for s in reversed(view.sentences[len(view.sentences) // 2 :]):
        if any(q in s.text for q in ('"', "\u201c", "\u201d")) or not view.usable(s):
            continue
        root = s.span.root
        general = root.tag_ in ("VBZ", "VBP") or any(
            c.dep_ == "aux" and c.lower_ in ("can", "may") for c in root.children
        )
        subj = subject_of(root)
        generic = (
            subj is not None
            and subj.pos_ == "NOUN"
            and (subj.tag_ == "NNS" or any(c.lower_ in ("a", "an", "every") for c in subj.children))
        )
        text = phrase(view.doc, [t.i for t in s.span])
        if general and generic and 4 <= len(text.split()) <= 14:
            yield Candidate("theme", "What lesson does the story teach?", text, s.index, 0.85,
                            "inference")  # fmt: skip
            return


def _maxim(view: PassageView) -> Iterator[Candidate]:
    """A character saying what a virtue means ("Being brave doesn't mean you aren't
    scared"), late in the story: the lesson in the story's own words."""
    half = len(view.sentences) // 2
    for s in reversed(view.sentences[half:]):
        if not any(q in s.text for q in ('"', "\u201c", "\u201d")):
            continue  # spoken: dialogue is otherwise not asked about, a maxim is the exception
        for tok in s.span:
            subj = next((c for c in tok.children if c.dep_ in ("nsubj", "csubj")), None)
            if tok.lemma_ != "mean" or subj is None or subj.tag_ != "VBG":
                continue
            text = phrase(view.doc, subtree_ids(tok))
            if 4 <= len(text.split()) <= 14:
                yield Candidate("theme", "What lesson does the story teach?", text, s.index, 0.85,
                                "inference")  # fmt: skip
                return


def text_structure(view: PassageView) -> Iterator[Candidate]:
    """How an informational passage is organised, from the signal words it uses most."""
    if len(view.sentences) < _MIN_SENTENCES:
        return
    counts = {k: len(p.findall(view.text)) for k, p in _STRUCTURES.items()}
    kind, n = max(counts.items(), key=lambda kv: kv[1])
    if n < 3:
        return
    pattern = _STRUCTURES[kind]
    best = max(
        (s for s in view.sentences if view.usable(s)),
        key=lambda s: (len(pattern.findall(s.text)), -s.index),
        default=None,
    )
    if best is None or not pattern.search(best.text):
        return
    q = "How does the author organize the ideas in this passage?"
    yield Candidate("text_structure", q, kind, best.index, 0.6, "inference")


def author_purpose(view: PassageView) -> Iterator[Candidate]:
    """'Why did the author write this passage?' -> 'to teach readers about camels'."""
    if len(view.sentences) < _MIN_SENTENCES:
        return
    subjects = Counter(
        t.lemma_.lower() for t in view.doc if t.pos_ == "NOUN" and t.dep_ in ("nsubj", "nsubjpass")
    )
    if not subjects:
        return
    lemma, n = subjects.most_common(1)[0]
    forms = [t for t in view.doc if t.lemma_.lower() == lemma and t.pos_ == "NOUN"]
    plural = next((t.lower_ for t in forms if t.tag_ == "NNS"), None)
    topic = plural or f"the {lemma}"
    evidence = next(
        (s for s in view.sentences if view.usable(s) and any(t in s.span for t in forms)), None
    )
    if n < 2 or evidence is None:
        return
    q = "Why did the author most likely write this passage?"
    answer = f"to teach readers about {topic}"
    yield Candidate("author_purpose", q, answer, evidence.index, 0.5, "inference")
