"""Comprehension questions from a passage, rule-based and deterministic.

Candidates of every type are read off the spaCy parse (``clauses``, ``narrative``,
``vocabulary``, ``centrality``), labelled with the teacher's type for the passage's
kind (a story's "who" question is a *character* question, an article's a *key
detail*), and kept only when the answer stands alone (``standalone``). They are
picked round-robin across the requested types, then literal items are swapped for
inference ones until the grade's inference share is met (``mix``). Near-duplicates are
skipped and evidence sentences are spread out. On request, each question gets three
distractors from the passage (``distractors``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

from readloom.llm.offline import centrality, distractors
from readloom.llm.offline.clauses import (
    causal,
    introductions,
    literal,
    narrative_sequence,
    sequence,
)
from readloom.llm.offline.mix import (
    NARRATIVE,
    SINGLETONS,
    SKILLS,
    inference_share,
    level_of,
    resolve_types,
)
from readloom.llm.offline.narrative import (
    feelings,
    noticed_causes,
    predictions,
    purposes,
    reactions,
    traits,
)
from readloom.llm.offline.nlp import DEFAULT_MODEL, FUNCTION_WORDS, crude_stem, padded_words
from readloom.llm.offline.passage import Candidate, PassageView
from readloom.llm.offline.standalone import answer_problem, resolved
from readloom.llm.offline.vocabulary import vocabulary
from readloom.state import Question, QuestionSet, QuestionType

_DUPLICATE_OVERLAP = 0.8
_EVENT_WORDS = 4  # an answer this long is an event, not a person or a thing
MAX_COUNT = 50
MIN_SENTENCES = 3  # fewer cannot carry a set of questions with distinct evidence
_STORY_LABELS: dict[str, QuestionType] = {
    "who": "character", "what": "action", "where": "setting", "when": "setting",
    "why": "causal_relationship", "sequence": "outcome_resolution",
}  # fmt: skip
_PROSE_LABELS: dict[str, QuestionType] = {
    "who": "key_detail", "what": "key_detail", "where": "key_detail", "when": "key_detail",
    "why": "cause_effect", "action": "key_detail", "character": "key_detail",
    "setting": "key_detail", "causal_relationship": "cause_effect",
    "outcome_resolution": "sequence",
}  # fmt: skip
_WHOLE = frozenset({"vocabulary", "main_idea", "theme", "text_structure", "author_purpose"})
_CONTEXT_WORDS = 3
_POSSESSIVE_START = re.compile(r"^(?:his|her|its|their)\b", re.I)
_PRONOUN_WORD = re.compile(r"\b(?:he|she|it|they|him|her|them|his|its|their|this|these)\b", re.I)
_FIRST_SECOND = re.compile(
    r"\b(?:I|[Mm]e|[Mm]y|[Ww]e|[Uu]s|[Oo]ur)\b|\b[Yy]ou(?:r)?\b(?! think)"
)  # not "US" (a place), but "My father" at a question's start


def sentence_count(passage_text: str, model: str = DEFAULT_MODEL) -> int:
    from readloom.llm.offline.nlp import parse, passage_sentences

    return len(passage_sentences(parse(passage_text, model)))


def generate_questions(
    *, passage_title: str, passage_text: str, count: int, grade: int,
    types: Iterable[str] | None = None, model: str = DEFAULT_MODEL, choices: bool = False,
) -> QuestionSet:  # fmt: skip
    """Exactly ``count`` questions when the passage has material for them, else fewer."""
    count = max(0, min(count, MAX_COUNT))
    if count == 0 or not passage_text.strip():
        return QuestionSet(questions=[])
    view = PassageView(passage_title.strip(), passage_text, grade, model)
    if len(view.sentences) < MIN_SENTENCES:
        return QuestionSet(questions=[])
    narrative = is_narrative(view)
    wanted = resolve_types(types, narrative)
    asked_main_idea = "main_idea" in wanted
    if narrative and not types:
        # a story's most central sentence is an event, and the hand-judged sample kept none
        # of them as its main idea (0 of 4): a story's own mix asks the lesson it states,
        # and a main idea only when a teacher asks for one by name
        wanted = [t for t in wanted if t != "main_idea"]
    every = [c for c in _all_candidates(view, narrative, set(wanted)) if c.type in wanted]
    pools = {t: _ranked(_fitted(view, [c for c in every if c.type == t])) for t in wanted}
    if narrative and pools.get("theme") and asked_main_idea:
        # a story that states its lesson: ask it where the mix puts a main idea
        wanted = [t for t in wanted if t != "theme"]
        at = wanted.index("main_idea") if "main_idea" in wanted else NARRATIVE.index("main_idea")
        wanted.insert(min(at, len(wanted)), "theme")
    picked = _select(view, pools, wanted, count)
    picked = _meet_inference_share(view, picked, pools, inference_share(grade))
    pool = distractors.pools(view, every) if choices else {}
    out: list[Question] = []
    for c in picked:
        options: list[str] = []
        if choices:
            wrong = distractors.choose(c, distractors.kind_of(c, view), pool, view)
            options = distractors.with_choices(c, wrong) if wrong else []
        out.append(
            Question(
                question=" ".join(c.question.split()),  # hard-wrapped text: no line breaks
                type=c.type,
                answer=" ".join(c.answer.split()),
                evidence=view.sentences[c.sentence].text,
                skill=SKILLS[c.type],
                level=level_of(c.type, c.level == "literal"),
                choices=options,
            )
        )
    return QuestionSet(questions=out)


def is_narrative(view: PassageView) -> bool:
    """A story: mostly past-tense narration about people, or dialogue."""
    people = sum(
        view.is_person(t) or t.lower_ in ("he", "she") for t in view.doc if t.dep_ == "nsubj"
    )  # "He was never short of money": a person, though the parser names no noun
    quotes = view.text.count("\u201c") + view.text.count('"') // 2
    return view.told and (people >= 1 or quotes >= 2)


def _all_candidates(
    view: PassageView, narrative: bool, wanted: set[QuestionType]
) -> Iterator[Candidate]:
    labels = _STORY_LABELS if narrative else _PROSE_LABELS
    raw: list[Candidate] = []
    for s in view.sentences:
        raw += literal(view, s)
        raw += introductions(view, s)
        raw += causal(view, s)
        raw += sequence(view, s)
        raw += narrative_sequence(view, s)
        raw += feelings(view, s)
        raw += traits(view, s)
        raw += reactions(view, s)
        raw += predictions(view, s)
        raw += noticed_causes(view, s)
        raw += purposes(view, s)
    if "vocabulary" in wanted:
        raw += vocabulary(view)
    if "main_idea" in wanted:
        raw += centrality.main_idea(view, narrative)
    if "theme" in wanted:
        raw += centrality.theme(view)
    if "text_structure" in wanted:
        raw += centrality.text_structure(view)
    if "author_purpose" in wanted:
        raw += centrality.author_purpose(view)
    for c in raw:
        c = replace(c, type=labels.get(c.type, c.type))
        kept = _standing_alone(view, c)
        if kept is not None:
            yield kept


def _standing_alone(view: PassageView, c: Candidate) -> Candidate | None:
    """The candidate with its answer's pronouns named, or None when it cannot stand alone."""
    evidence = view.sentences[c.sentence]
    if _FIRST_SECOND.search(c.question) or _quotes_speech(c.question, evidence.text):
        return None
    answer = c.answer.strip()
    found = re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", evidence.text) if answer else None
    at = found.start() if found else -1  # whole words: "nervous" is not in "nervously"
    if at < 0 and _PRONOUN_WORD.search(answer):
        return None  # a rebuilt answer ("she saw the mud") whose pronoun we cannot place
    if at >= 0 and c.type not in ("vocabulary", "theme"):  # a lesson's "you" is anyone
        start = evidence.span.start_char + at
        end = start + len(answer)
        ids = [t.i for t in evidence.span if t.idx >= start and t.idx + len(t.text) <= end]
        named = resolved(view, ids, c.question) if ids else None
        if named is None:
            return None
        answer = named
    if answer_problem(answer, evidence.text, c.question, c.type):
        return None
    if _POSSESSIVE_START.match(answer) and _PRONOUN_WORD.search(c.question):
        return None  # "Who did her boy love? his mother": whose, nobody says
    n_words = len(evidence.text.split())
    if c.type not in _WHOLE and n_words < 8 and n_words - len(answer.split()) < _CONTEXT_WORDS:
        return None  # "Grandma Rosa smiled proudly.": no words left to point a hint at
    return replace(c, answer=answer) if answer != c.answer else c


_QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]")


def _quotes_speech(question: str, evidence: str) -> bool:
    """A question that carries three words running from a quotation in its sentence:
    someone's words, asked as if the narrator said them."""
    asked = padded_words(question)
    for said in _QUOTED.findall(evidence):
        words = padded_words(said).split()
        if any(f" {' '.join(words[i : i + 3])} " in asked for i in range(len(words) - 2)):
            return True
    return False


def _meet_inference_share(
    view: PassageView, picked: list[Candidate], pools: dict[QuestionType, list[Candidate]],
    share: float,
) -> list[Candidate]:  # fmt: skip
    """Swap literal items for unpicked inference ones until the share is met."""
    target = math.ceil(share * len(picked) - 1e-9)
    picked = list(picked)

    def inferential(c: Candidate) -> bool:
        return level_of(c.type, c.level == "literal") == "inference"

    spare = [
        c for t in pools for c in pools[t]
        if inferential(c) and c not in picked
    ]  # fmt: skip
    rank = {t: i for i, t in enumerate(pools)}  # the requested order: story types first
    spare.sort(key=lambda c: (rank[c.type], -c.score, c.sentence, c.question))
    while sum(map(inferential, picked)) < target and spare:
        cand = spare.pop(0)
        if cand.type in SINGLETONS and any(p.type == cand.type for p in picked):
            continue
        counts = {t: sum(p.type == t for p in picked) for t in {p.type for p in picked}}
        cap = math.ceil(len(picked) / 3)  # at most a third of the set of one type
        literal_items = [i for i, p in enumerate(picked) if not inferential(p)]
        if not literal_items:
            break
        same_type = [i for i in literal_items if picked[i].type == cand.type]
        if same_type:  # a literal "why" gives way to an inferred one: the mix is unchanged
            victim = same_type[-1]
        elif counts.get(cand.type, 0) >= max(1, cap):
            continue  # the mix stays a mix: no third vocabulary item to reach a share
        else:  # replace a literal item of the most-asked type, the latest of them
            victim = max(literal_items, key=lambda i: (counts[picked[i].type], i))
        rest = picked[:victim] + picked[victim + 1 :]
        if not _allowed(view, cand, rest, [_signature(view, p.question) for p in rest], 3, False):
            continue
        picked = rest[:victim] + [cand] + rest[victim:]
    return picked


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
    """At most a third vocabulary while other types have material; more only to fill."""
    picked = _select_rounds(view, pools, order, count, max(1, math.ceil(count / 3)))
    if len(picked) < count and "vocabulary" in pools:
        picked = _select_rounds(view, pools, order, count, count)
    return picked


def _select_rounds(
    view: PassageView, pools: dict[QuestionType, list[Candidate]], order: list[QuestionType],
    count: int, vocab_rounds: int,
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
            if qtype in SINGLETONS and round_no > 1:
                continue
            if qtype == "vocabulary" and round_no > vocab_rounds:
                continue  # a comprehension set, not a word list
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
    if cand.type not in SINGLETONS:
        same = [p for p in picked if p.type not in SINGLETONS]
        if sum(p.sentence == cand.sentence for p in same) >= per_sentence:
            return False
        answer = cand.answer.lower().strip(" .")
        if unique_answers and any(p.answer.lower().strip(" .") == answer for p in same):
            return False
    if any(_same_fact(cand, p) for p in picked):
        return False
    sig = _signature(view, cand.question)
    return not any(_overlap(sig, other) >= _DUPLICATE_OVERLAP for other in signatures)


def _same_fact(a: Candidate, b: Candidate) -> bool:
    """One fact asked twice: the same event for an answer ("What did the youth do…?" and
    "What happened after the youth began to cry?"), or one sentence asked from both ends:
    either's answer in the other's question ("What did the building of the church make?" /
    "What made rapid progress?") or inside the other's answer ("What did the youth sample?
    the apples" / "…do? sampled the apples"). A teacher keeps one of them, even when the
    set comes out short: the hand-judged sample failed every such pair."""
    x, y = padded_words(a.answer), padded_words(b.answer)
    if min(len(x.split()), len(y.split())) >= _EVENT_WORDS and (x in y or y in x):
        return True  # the same event ("the youth sampled the apples…"); a person may do more
    if a.sentence != b.sentence or "vocabulary" in (a.type, b.type):
        return False  # a word's meaning is another fact, though its question quotes the sentence
    if x in padded_words(b.question) or y in padded_words(a.question):
        return True
    return _within(x, y) or _within(y, x)  # "nervous" / "waited nervously by her poster"


def _within(short: str, long: str) -> bool:
    """Every word of ``short`` in ``long``, up to its ending ("apple"/"apples")."""
    others = long.split()
    return bool(short.split()) and all(
        any(o.startswith(w[: max(4, len(w) - 2)]) and w[:3] == o[:3] for o in others)
        for w in short.split()
    )


def _signature(view: PassageView, question: str) -> set[str]:
    """Content words, crudely stemmed: the evaluator's notion of a near-duplicate."""
    words = re.findall(r"[a-z0-9']+", question.lower())
    return {crude_stem(w) for w in words if w not in FUNCTION_WORDS and len(w) > 1}


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))
