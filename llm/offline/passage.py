"""A parsed passage as question generators see it: sentences, grade, pronoun antecedents."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from spacy.tokens import Doc, Token

from readloom.llm.offline.nlp import (
    Sentence,
    is_person,
    is_placeholder,
    parse,
    passage_sentences,
    wordset,
)
from readloom.llm.offline.syntax import Clause, noun_phrase_ids, render, subject_of, subtree_ids
from readloom.state import QuestionLevel, QuestionType

_QUOTE_CHARS = ('"', "“", "”")
_LOOKBACK = 3  # sentences that name someone
_CHAIN = 8  # sentences read back in all, through ones that name nobody
SPEECH_VERBS = wordset("say tell ask answer reply cry shout call whisper exclaim")
# a sentence whose main verb is one of these reports speech, not an event
_SAYING = SPEECH_VERBS | wordset("add continue begin go murmur scream sing roar repeat")


def quoted_ids(span) -> set[int]:
    """Token ids inside double quotation marks (the marks included)."""
    out: set[int] = set()
    inside = False
    for tok in span:
        mark = tok.text in _QUOTE_CHARS or tok.text in ("``", "''")
        if mark or inside:
            out.add(tok.i)
        if mark:
            opening = tok.text in ("“", "``") or (tok.text == '"' and not inside)
            inside = opening if tok.text != "”" else False
    return out


@dataclass(frozen=True)
class Candidate:
    """A possible question; ``score`` ranks candidates of one type (higher is better)."""

    type: QuestionType
    question: str
    answer: str
    sentence: int
    score: float
    level: QuestionLevel = "literal"


@dataclass
class PassageView:
    title: str
    text: str
    grade: int
    model: str
    doc: Doc = field(init=False)
    sentences: list[Sentence] = field(init=False)
    _by_token: dict[int, int] = field(init=False, default_factory=dict)
    _names: frozenset[str] = field(init=False, default=frozenset())
    _common: frozenset[str] = field(init=False, default=frozenset())
    _animals: frozenset[str] = field(init=False, default=frozenset())
    _usable: dict[int, bool] = field(init=False, default_factory=dict)
    told: bool = field(init=False, default=False)  # narrated in the past: a told story

    def __post_init__(self) -> None:
        self.doc = parse(self.text, self.model)
        self.sentences = passage_sentences(self.doc)
        roots = [s.span.root for s in self.sentences]
        self.told = sum(r.tag_ in ("VBD", "VBN") for r in roots) >= _TOLD * max(1, len(roots))
        for s in self.sentences:
            for tok in s.span:
                self._by_token[tok.i] = s.index
        self._names = frozenset(t.text for e in self.doc.ents if e.label_ == "PERSON" for t in e)
        self._names |= _acting_names(self.doc)
        self._animals = _animal_characters(self.doc, self.told)
        self._common = frozenset(t.lemma_.lower() for t in self.doc if t.pos_ == "NOUN")

    def is_person(self, tok: Token) -> bool:
        """Names tagged PERSON somewhere in the passage (unless also used as a common noun,
        like "Beaver ponds"), pseudonyms, and person nouns ("the captain")."""
        if tok.pos_ == "PROPN" and not is_placeholder(tok):
            named = tok.ent_type_ in ("PERSON", "") or tok.text in self._names
            return named and tok.is_title and tok.lemma_.lower() not in self._common
        return is_person(tok) or tok.lemma_.lower() in self._animals

    def is_animal(self, tok: Token) -> bool:
        """An animal the story tells of as a character: "who" as a subject, "what" as an
        object ("What did the old man keep?" -> "a tame sparrow")."""
        return tok.pos_ == "NOUN" and tok.lemma_.lower() in self._animals

    @property
    def young(self) -> bool:
        return self.grade <= 3

    @property
    def max_question_words(self) -> int:
        return 12 if self.grade <= 3 else 16 if self.grade <= 5 else 22

    def sentence_of(self, token: Token) -> Sentence | None:
        idx = self._by_token.get(token.i)
        return None if idx is None else self.sentences[idx]

    def usable(self, s: Sentence) -> bool:
        """Narration only: dialogue and questions make poor wh-question sources. A sentence
        that quotes someone is narration when its main verb is the narrator's and not a
        verb of saying ("Seizing her by the arm, she pulled her away, exclaiming: '…'").
        Every reader asks this of every sentence: it is worked out once."""
        if s.index not in self._usable:
            self._usable[s.index] = self._narrated(s)
        return self._usable[s.index]

    def _narrated(self, s: Sentence) -> bool:
        text = s.text
        ends = text[-1] in ".!\"”’'"  # not "?" (a question) nor ":" (a list heading)
        if not ends:
            return False
        if not any(q in text for q in _QUOTE_CHARS):
            return True
        straight = text.count('"')
        first = next((c for c in text if c in _QUOTE_CHARS), "")
        if straight % 2 or first == "”" or text.count("“") != text.count("”"):
            return False  # a quotation opened or closed in another sentence: speech
        root = s.span.root
        return (
            root.i not in quoted_ids(s.span)
            and root.lemma_ not in _SAYING
            and root.pos_ in ("VERB", "AUX")
        )

    def subject_text(self, clause: Clause) -> tuple[str, bool] | None:
        """How a question names the clause's subject; True when a pronoun was resolved."""
        subj = clause.subject
        if subj.pos_ != "PRON":
            return render(self.doc, clause.subject_ids), False
        antecedent = self.antecedent(subj)
        return (antecedent, True) if antecedent else None

    def antecedent(self, pronoun: Token) -> str | None:
        """What a pronoun most likely stands for, or None when unsure.

        he/she: the nearest earlier person subject. it/they/them: the previous main
        clause's subject (its object, for an object pronoun), chaining back through
        sentences that use the same pronoun.
        """
        low = pronoun.lower_
        sent = self.sentence_of(pronoun)
        if sent is None:
            return None
        if low in ("he", "she"):
            return gender_fits(low, self._person_before(pronoun, sent.index))
        if low in ("it", "they", "them"):
            return self._thing_before(pronoun, sent.index)
        return None

    def _person_before(self, pronoun: Token, index: int) -> str | None:
        """The nearest earlier person subject the pronoun's gender allows: a princess just
        before "he" is no reason to give up on the giant a sentence further back."""
        gender = "she" if pronoun.lower_ in ("she", "her", "hers") else "he"
        looked = 0
        for idx in range(index, max(-1, index - _CHAIN), -1):
            if looked >= _LOOKBACK:
                break
            span = self.sentences[idx].span
            limit = pronoun.i if idx == index else span.end
            subjects = [
                t
                for t in span
                if t.i < limit and t.pos_ != "PRON"
                and (t.dep_ in ("nsubj", "nsubjpass") or _introduced(t))
            ]  # fmt: skip
            if not any(self.is_person(t) for t in subjects):
                continue  # "He … The wind … He …": nobody new comes in; read further back
            looked += 1
            named = {t: self._name(t) for t in subjects}
            subjects = [t for t in subjects if gender_fits(gender, named[t])]
            fits = [t for t in subjects if _fits(self, "he", t)]
            names = {named[t] for t in fits}
            if len(names) == 1:
                return names.pop()
            if len(names) > 1:
                root_subj = subject_of(span.root)
                if root_subj is not None and root_subj in fits:
                    return self._name(root_subj)
                return None
            if any(self.is_person(t) for t in subjects):
                return None  # a closer person that does not fit: ambiguous
        return None

    def _thing_before(self, pronoun: Token, index: int) -> str | None:
        plural = pronoun.lower_ in ("they", "them")
        kind = "they" if plural else "it"
        as_object = pronoun.dep_ in ("dobj", "pobj", "attr")
        for idx in range(index - 1, max(-1, index - 1 - _LOOKBACK), -1):
            root = self.sentences[idx].span.root
            subj = subject_of(root)
            obj = next((c for c in root.children if c.dep_ == "dobj"), None)
            chained = False
            span = self.sentences[idx].span
            fitting = [
                c for c in (subj, obj)
                if c is not None and span.start <= c.i < span.end and c.pos_ != "PRON"
                and _fits(self, kind, c)
            ]  # fmt: skip
            if len(fitting) == 2 and plural:
                return None  # "Maple trees make seeds. … they spin": the trees or the seeds?
            for cand in (obj, subj) if as_object else (subj, obj):
                if cand is None or not span.start <= cand.i < span.end:
                    continue
                if cand.pos_ == "PRON":
                    chained = chained or cand.lower_ in (("they", "them") if plural else ("it",))
                    continue
                if _fits(self, kind, cand):
                    return self._name(cand, together=plural)
            if not chained:
                return None
        return None

    def _name(self, tok: Token, together: bool = False) -> str:
        """How a question names ``tok``; ``together``: with its conjuncts ("they" after
        "Mia and Leo walk …" is Mia and Leo)."""
        ids = noun_phrase_ids(tok)
        conj = together and any(c.dep_ == "conj" for c in tok.children)
        if conj:
            ids |= {i for c in tok.children if c.dep_ in ("cc", "conj") for i in subtree_ids(c)}
        elif tok.ent_type_ == "PERSON":
            ent = next((e for e in self.doc.ents if e.start <= tok.i < e.end), None)
            if ent is not None:
                det = self.doc[ent.start - 1] if ent.start else None
                if det is not None and det.lower_ == "the" and ent.start <= det.head.i < ent.end:
                    return f"the {ent.text}"  # "The Queen … she": the Queen, not Queen
                return ent.text
        sent = self.sentence_of(tok)
        if sent is not None:  # spaCy may glue a heading onto the first sentence
            ids &= set(range(sent.span.start, sent.span.end))
        # named again, a person is "the lad": "there was a lad … he" -> "the lad"
        return re.sub(r"^(?:a|an)\s+", "the ", render(self.doc, ids), flags=re.I)


MALE_NOUNS = frozenset(
    "man men king prince boy father son brother husband lord sir giant monk uncle".split()
)
FEMALE_NOUNS = frozenset(
    "woman women queen princess girl mother daughter sister wife lady maid witch aunt".split()
)


def gender_fits(pronoun: str, name: str | None) -> str | None:
    """``name``, unless "she" would name "the old man" (or "he", "the queen")."""
    if name is None:
        return None
    wrong = FEMALE_NOUNS if pronoun in ("he", "him", "his") else MALE_NOUNS
    return None if set(name.lower().replace("'s", "").split()) & wrong else name


def _acting_names(doc: Doc) -> frozenset[str]:
    """Names the NER missed ("Nadia" as a place): subjects twice, never after a preposition."""
    subjects = Counter(t.text for t in doc if t.pos_ == "PROPN" and t.dep_ == "nsubj")
    placed = {t.text for t in doc if t.pos_ == "PROPN" and t.dep_ == "pobj"}
    return frozenset(n for n, k in subjects.items() if k >= 2 and n not in placed)


_ANIMALS = wordset("""fox wolf bear bird crow raven eagle owl cat dog mouse rat frog toad hare
    rabbit lion tiger horse pony donkey goat sheep pig cow bull ox hen cock rooster duck goose
    swan serpent snake dragon monkey elephant stag ant bee spider tortoise turtle squirrel
    jackal sparrow dove magpie""")
_TOLD = 0.4  # share of past-tense sentences that makes a passage a told story
_CHARACTER_VERBS = SPEECH_VERBS | wordset("think decide want wish promise laugh weep thank beg")


def _animal_characters(doc: Doc, told: bool) -> frozenset[str]:
    """Animals a story tells of ("the fox ran to the well", "said the wolf"): characters,
    asked about with "who" and named for a "he" like any person. In present-tense prose (a
    passage about bees) an animal stays a thing unless it speaks or thinks."""
    return frozenset(
        t.lemma_.lower() for t in doc
        if t.pos_ == "NOUN" and t.lemma_.lower() in _ANIMALS
        and (told or t.dep_ == "nsubj" and t.head.lemma_.lower() in _CHARACTER_VERBS)
    )  # fmt: skip


def _introduced(tok: Token) -> bool:
    """A person a story brings in with "there was a lad" or "there lived a prince": the
    noun is no subject to the parser, yet the "he" of the next sentences is that person."""
    return (
        tok.pos_ == "NOUN"
        and tok.dep_ in ("attr", "nsubj", "dobj")
        and any(c.dep_ == "expl" for c in tok.head.children)
    )


def _fits(view: PassageView, pronoun: str, tok: Token) -> bool:
    if pronoun in ("he", "she"):
        return view.is_person(tok) and tok.tag_ in ("NN", "NNP")
    if pronoun == "they":
        return tok.tag_ in ("NNS", "NNPS") or any(c.dep_ == "conj" for c in tok.children)
    return tok.tag_ in ("NN", "NNP") and not view.is_person(tok)
