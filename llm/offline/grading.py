"""The offline grader: is a child's short written answer right, partly right, wrong, or no
answer at all?

Written here rather than taken from a library because no offline short-answer grader
exists for children's writing; it combines well-kept parts: spaCy lemmas, the embedding
model the retriever already loaded (response against the key), and the passage's own
aliases (``aliases.py``). In order:

1. Child spellings are normalised ("cuz", "becuz" -> because; "idk" -> i don't know).
2. Not an answer: empty, "idk", a question back, a greeting, a feeling about the task,
   or a guess list ("tobias or pepper or the grandmother") — a guess list is never
   accepted, whatever else it contains.
3. The response and the key are rewritten with the passage's aliases ("the keeper" ->
   Tobias), then compared: key-term recall by lemma (with numbers as digits and close
   spellings), and embedding similarity. A negation the key lacks (or the reverse), or a
   different number, makes an otherwise matching answer incorrect.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from cachetools import LRUCache

from readloom.llm.offline.aliases import EMPTY, AliasTable, passage_aliases, text_digest
from readloom.llm.offline.nlp import DEFAULT_MODEL, PERSON_NOUNS, is_content, norm, parse

GradeVerdict = Literal["correct", "partially_correct", "incorrect", "not_an_answer"]

# Thresholds, tuned on FairytaleQA *train* (second annotator vs first's key; answers to
# other questions of the same section): see the tutor eval suite's grading benchmark.
CORRECT_RECALL, CORRECT_COS = 0.6, 0.55
STRONG_COS = 0.8
PARTIAL_RECALL, PARTIAL_COS = 0.25, 0.4
OFF_TOPIC_COS = 0.1

_CHILD = {
    "cuz": "because", "becuz": "because", "bcuz": "because", "bc": "because", "coz": "because",
    "cause": "because", "cos": "because", "becaus": "because", "becasue": "because",
    "idk": "i don't know", "dunno": "don't know", "idc": "i don't care", "u": "you",
    "ur": "your", "r": "are", "wat": "what", "wut": "what", "bcoz": "because", "pls": "please",
    "plz": "please", "gonna": "going to", "wanna": "want to", "thru": "through", "tho": "though",
    "nite": "night", "lite": "light", "b4": "before", "2day": "today", "gr8": "great",
    "im": "i'm", "dont": "don't", "didnt": "didn't", "cant": "can't", "wont": "won't",
    "wasnt": "wasn't", "isnt": "isn't", "doesnt": "doesn't", "thx": "thanks", "ya": "yes",
    "yea": "yes", "yeah": "yes", "nope": "no",
}  # fmt: skip
_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "once": 1, "twice": 2, "dozen": 12, "first": 1, "second": 2, "third": 3,
}  # fmt: skip
_NEGATION = frozenset({"not", "no", "never", "n't", "nothing", "nobody", "none", "neither"})
_WEIGHTS = {"PROPN": 3.0, "NUM": 3.0, "NOUN": 2.5, "ADJ": 2.0, "VERB": 1.0, "ADV": 1.0}

_NO_ATTEMPT = re.compile(
    r"^\W*(i\s*(do\s*n[o']?t|don't|dont)\s*(really\s*)?(know|get it|understand|care)|no idea|"
    r"not sure|i'?m not sure|dunno|don't know|no clue|pass|skip|help|hint|i give up|"
    r"(just\s*)?(tell|give)\s*(me\s*)?(the\s*)?answer|what'?s the answer|"
    r"i forgot|i can'?t remember|nothing|no|yes|ok(ay)?|maybe|um+|hmm+|\?+)\W*$",
    re.I,
)
_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hiya|yo|good (morning|afternoon|evening)|howdy|sup)\b"
    r"|^\W*(my name is|my name's|i am called|call me)\b",
    re.I,
)
_INTRO_ONLY = re.compile(r"^\W*(i am|i'm|im)\s+(<PERSON_\d+>|[a-z]+)\W*$", re.I)
_FEELING = re.compile(
    r"\b(this is|it'?s|reading is|that'?s) (so |really |too )?(boring|stupid|dumb|hard|"
    r"annoying|lame|too hard)\b|\bi (hate|don'?t like|do not like) (this|reading|it|school|"
    r"questions)\b|\bi'?m (so |really )?(bored|tired|sad|hungry|sleepy|mad|angry|frustrated|"
    r"confused)\b|\bugh+\b|\bi can'?t do (this|it)\b|\bboring\b",
    re.I,
)
_QUESTION_BACK = re.compile(
    r"^\W*(what|who|whom|whose|why|how|where|when|which|can|could|do|does|did|is|are|was|"
    r"were|will|would|should|may)\b.*\?\s*$|^\W*what (does|is|do) .* mean\b",
    re.I,
)
_CHAT = re.compile(
    r"\b(you|your|we|let'?s|play|game|games|favou?rite|want to|can we|lunch|recess|pizza|"
    r"minecraft|fortnite|roblox|youtube|tiktok|video|tv)\b",
    re.I,
)
_TENTATIVE = re.compile(r"^\W*(is it|was it|maybe it'?s|maybe|it'?s|i think it'?s)\s+", re.I)
# "amazing cuz the text says so": a justification that points at the text carries no content
# of its own; graded, it would only dilute a short answer.
_SAYS_SO = re.compile(
    r"[\s,]*\b(?:cuz|cause|coz|because|bc|since|the|it)\b(?:\s+the)?"
    r"(?:\s+(?:text|story|book|passage|it))?\s+(?:says|said)(?:\s+so)?\W*$",
    re.I,
)


def _bare(text: str) -> str:
    """The answer without a tentative opening or a "the text says so" ending."""
    text = _TENTATIVE.sub("", text).rstrip("?").strip() or text
    return _SAYS_SO.sub("", text).strip() or text


_OR_SPLIT = re.compile(r"\s*(?:\bor\b|\bmaybe\b|/|\?)\s*", re.I)
_LIST_SPLIT = re.compile(r"\s*(?:,|\band\b|\bor\b|/)\s*", re.I)


@dataclass(frozen=True)
class OfflineGrade:
    verdict: GradeVerdict
    reason: str  # a code: "key_terms", "meaning", "alias", "guess_list", "negation", …
    confidence: float
    score: float  # 0..1, how close the response is to the key

    @property
    def accepted(self) -> bool:
        return self.verdict in ("correct", "partially_correct")


def normalise(text: str) -> str:
    """Child spellings to standard ones, word by word (case kept for pseudonyms)."""
    words = re.findall(r"<[A-Z_0-9]+>|[\w']+|[^\w\s]", text or "")
    out = [_CHILD.get(w.lower(), w) for w in words]
    joined = " ".join(out)
    return re.sub(r"\s+([?.!,;:])", r"\1", joined).strip()


def not_an_answer(text: str, *, key: str = "") -> str | None:
    """A reason code when ``text`` is not an attempt at the answer, else None."""
    t = text.strip()
    if not re.search(r"\w", t):
        return "empty"
    if _NO_ATTEMPT.match(t):
        return "no_attempt"
    if is_guess_list(t, key):
        return "guess_list"
    if _QUESTION_BACK.match(t) and not _TENTATIVE.match(t):
        return "question"
    if _GREETING.match(t) or _INTRO_ONLY.match(t):
        return "greeting"
    if _FEELING.search(t):
        return "feeling"
    return None


def is_guess_list(text: str, key: str = "") -> bool:
    """'tobias or pepper or the grandmother', 'maybe wren maybe tobias', 'tobias, wren,
    santos' (for a one-word key): several alternatives offered at once. A key that itself
    says "or" ("whether to stay or go") turns the check off."""
    t = text.strip().rstrip(".!")
    if re.search(r"\bor\b", key, re.I):  # only "<the key> or <something else>" is a guess
        k = " ".join(key.lower().split()).rstrip(".!")
        rest = " ".join(t.lower().split()).replace(k, " ", 1) if k else ""
        return (
            bool(k)
            and k in " ".join(t.lower().split())
            and bool(re.search(r"(^|\s)or\s+\w|\w\s+or(\s|$)", rest.strip()))
        )
    parts = [p for p in _OR_SPLIT.split(t) if p and re.search(r"\w", p)]
    offered_or = bool(re.search(r"\bor\b|/|\bmaybe\b.*\bmaybe\b|\?.*\S.*\?", t, re.I))
    # two or more answers offered at once ("X or Y", "maybe X maybe Y"), however long:
    # the tutor asks the child to pick one and say why
    if offered_or and len({p.lower().strip() for p in parts}) >= 2:
        return True
    items = [p for p in _LIST_SPLIT.split(t) if p and re.search(r"\w", p)]
    short_key = len(key.split()) <= 3 and not re.search(r",|\band\b", key, re.I)
    return (
        short_key
        and t.count(",") >= 2
        and len(items) >= 3
        and all(len(p.split()) <= 3 for p in items)
    )


# --- comparing with the key -------------------------------------------------------------


@dataclass(frozen=True)
class _Terms:
    lemmas: dict[str, str]  # lemma -> POS
    numbers: frozenset[int]
    negated: bool


def _number(word: str) -> int | None:
    w = word.lower().replace(",", "")
    if w.isdigit():
        return int(w)
    return _NUMBERS.get(w)


def _numbers(words: list[str]) -> set[int]:
    """'one hundred and twelve' -> {112}; '3 boats and two oars' -> {3, 2}."""
    found: set[int] = set()
    total = cur = 0
    active = False
    for w in [*words, ""]:
        n = _number(w)
        if n is not None and w.lower() not in ("first", "second", "third", "once", "twice"):
            active = True
            if n in (100, 1000):
                cur = max(cur, 1) * n
                if n == 1000:
                    total, cur = total + cur, 0
            else:
                cur += n
            continue
        if active and w.lower() == "and":
            continue
        if active:
            found.add(total + cur)
        total = cur = 0
        active = False
        if n is not None:
            found.add(n)
    return found


@lru_cache(maxsize=4096)
def _terms(text: str, model: str) -> _Terms:
    doc = parse(text, model, light=True)
    lemmas: dict[str, str] = {}
    numbers = _numbers([t.lower_ for t in doc])
    negated = False
    for n in numbers:
        lemmas[str(n)] = "NUM"
    for tok in doc:
        low = tok.lower_
        if low in _NEGATION or tok.lemma_.lower() in _NEGATION:
            negated = True
        if _number(low) is not None:
            continue
        if is_content(tok):
            lemmas.setdefault(norm(tok), tok.pos_)
            lemmas.setdefault(low, tok.pos_)
    return _Terms(lemmas, frozenset(numbers), negated)


def _key_terms(key: _Terms, question: _Terms) -> dict[str, str]:
    own = {k: v for k, v in key.lemmas.items() if k not in question.lemmas}
    return own or dict(key.lemmas)


def _matches(term: str, given: dict[str, str]) -> bool:
    if term in given:
        return True
    if len(term) < 4:
        return False
    return any(
        len(g) >= 4 and g[0] == term[0] and difflib.SequenceMatcher(None, term, g).ratio() >= 0.8
        for g in given
    )  # a child's spelling of the word ("lighthous", "granddauter")


def _recall(expected: dict[str, str], given: dict[str, str]) -> float:
    # surface and lemma forms of one word are both in ``expected``: weigh each word once
    seen: dict[str, float] = {}
    for term, pos in expected.items():
        seen[term] = _WEIGHTS.get(pos, 1.0)
    total = matched = 0.0
    counted: set[str] = set()
    for term, w in seen.items():
        stem = term[:5]
        if stem in counted:
            continue
        counted.add(stem)
        total += w
        matched += w * _matches(term, given)
    return matched / total if total else 0.0


def _same_words(a: str, b: str) -> bool:
    """The same words in the same order, whatever the case, spacing or punctuation."""
    return re.findall(r"[\w'<>]+", a.lower()) == re.findall(r"[\w'<>]+", b.lower())


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


class OfflineGrader:
    """Grades against a key; ``embed`` maps texts to unit vectors (the retriever's model)."""

    def __init__(self, *, embed: object | None = None, model: str = DEFAULT_MODEL) -> None:
        if embed is None:
            from readloom.retrieval.embeddings import embed as default_embed

            embed = default_embed
        self._embed = embed
        self._model = model
        self._vectors: dict[str, np.ndarray] = {}

    def _vector_pair(self, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
        # Graders run in worker threads: read each vector once, never re-read the cache
        # after another thread may have cleared it.
        found = {t: v for t in (a, b) if (v := self._vectors.get(t)) is not None}
        todo = list(dict.fromkeys(t for t in (a, b) if t not in found))
        if todo:
            if len(self._vectors) > 50_000:
                self._vectors.clear()
            vecs = self._embed(todo)  # type: ignore[operator]
            for t, v in zip(todo, vecs, strict=True):
                self._vectors[t] = found[t] = v
        return found[a], found[b]

    def prepare(self, items: list[tuple[str, str, str | None]]) -> None:
        """Embed many (response, key, passage) pairs in batches: ``readloom grade`` on a
        file is several times faster than one pair at a time."""
        texts: list[str] = []
        for response, key, passage in items:
            text = _bare(normalise(response))
            aliases = passage_aliases(passage, self._model) if passage else EMPTY
            pair = [aliases.canonical(text), aliases.canonical(key)]
            if not _same_words(*pair):  # the key itself is graded without a vector
                texts += pair
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        for i in range(0, len(todo), 64):
            batch = todo[i : i + 64]
            for t, v in zip(batch, self._embed(batch), strict=True):  # type: ignore[operator]
                self._vectors[t] = v

    def grade(
        self,
        response: str,
        *,
        question: str,
        key: str,
        evidence: str | None = None,
        passage: str | None = None,
    ) -> OfflineGrade:
        text = normalise(response)
        reason = not_an_answer(text, key=key)
        if reason is not None:
            return OfflineGrade("not_an_answer", reason, 0.9, 0.0)
        text = _bare(text)
        aliases = passage_aliases(passage, self._model) if passage else EMPTY
        graded = self._compare(text, question=question, key=key, aliases=aliases)
        if graded.reason == "off_topic" and _about_text(text, evidence, passage, self._model):
            return OfflineGrade("incorrect", "no_match", graded.confidence, graded.score)
        return graded

    def _compare(self, text: str, *, question: str, key: str, aliases: AliasTable) -> OfflineGrade:
        canon_text, canon_key = aliases.canonical(text), aliases.canonical(key)
        used_alias = canon_text != text.lower() or canon_key != key.lower()
        given = _terms(canon_text, self._model)
        exp_terms = _terms(canon_key, self._model)
        q_terms = _terms(aliases.canonical(question), self._model)
        expected = _key_terms(exp_terms, q_terms)
        recall = _recall(expected, given.lemmas)
        if _same_words(canon_text, canon_key):
            cos = 1.0  # the key itself (after aliases): no embedding needed to say so
        else:
            rv, kv = self._vector_pair(canon_text, canon_key)
            cos = _cosine(rv, kv)
        score = round(max(recall, (cos - 0.2) / 0.7), 3)
        score = min(1.0, max(0.0, score))
        if exp_terms.numbers and given.numbers and not exp_terms.numbers & given.numbers:
            return OfflineGrade("incorrect", "number", 0.8, score)
        matching = recall >= PARTIAL_RECALL or cos >= STRONG_COS
        if matching and exp_terms.negated != given.negated and _negation_matters(text, key):
            return OfflineGrade("incorrect", "negation", 0.7, score)
        if (recall >= CORRECT_RECALL and cos >= CORRECT_COS) or cos >= STRONG_COS:
            reason = "alias" if used_alias and recall >= CORRECT_RECALL else "key_terms"
            if cos >= STRONG_COS and recall < CORRECT_RECALL:
                reason = "meaning"
            return OfflineGrade("correct", reason, _conf(max(recall, cos), CORRECT_RECALL), score)
        entity = canon_key.strip(" .") if canon_key.strip(" .") in aliases.names() else None
        if entity and _describes(given, aliases) == entity:
            return OfflineGrade("correct", "description", 0.7, max(score, 0.7))
        if recall >= PARTIAL_RECALL or cos >= PARTIAL_COS:
            return OfflineGrade("partially_correct", "some_key_terms", 0.55, score)
        chat = _CHAT.search(text) is not None  # "do you like pizza": talk, not an answer
        if chat and cos < OFF_TOPIC_COS and recall == 0.0 and not _shares_question(given, q_terms):
            return OfflineGrade("not_an_answer", "off_topic", 0.6, score)
        return OfflineGrade("incorrect", "no_match", _conf(1 - max(recall, cos), 0.5), score)


_PASSAGE_LEMMAS: LRUCache[tuple[str, str], frozenset[str]] = LRUCache(maxsize=512)
_lemmas_lock = threading.Lock()


def _text_lemmas(text: str, model: str) -> frozenset[str]:
    """A passage's content lemmas, once per passage (keyed by digest, like its aliases)."""
    if not text:
        return frozenset()
    key = (text_digest(text), model)
    with _lemmas_lock:
        found = _PASSAGE_LEMMAS.get(key)
    if found is None:
        found = frozenset(_terms(text, model).lemmas)
        with _lemmas_lock:
            _PASSAGE_LEMMAS[key] = found
    return found


def _about_text(text: str, evidence: str | None, passage: str | None, model: str) -> bool:
    """Does the response use words of the passage (or evidence)? Then it is an attempt."""
    given = set(_terms(text, model).lemmas)
    source = _text_lemmas(passage or "", model) | _text_lemmas(evidence or "", model)
    return bool(given & source)


_ROLE_WORDS = PERSON_NOUNS
_PERSONS = frozenset("man woman person guy lady boy girl he she someone kid".split())


def _describes(given: _Terms, aliases: AliasTable) -> str | None:
    """'the old man who lives in the lighthouse' names a person by what the text says of
    them: the one entity whose descriptions share a word with the response."""
    words = set(given.lemmas)
    if not words & (_PERSONS | _ROLE_WORDS):
        return None
    name = aliases.described(words - _PERSONS)
    return name.lower() if name else None


def _shares_question(given: _Terms, question: _Terms) -> bool:
    return bool(set(given.lemmas) & set(question.lemmas))


def _negation_matters(text: str, key: str) -> bool:
    """'no one helped him' vs 'nobody helped': both negative. Only a one-sided 'not' counts."""
    neg = re.compile(r"\b(not|never|no|nobody|nothing|none)\b|n't\b", re.I)
    return bool(neg.search(text)) != bool(neg.search(key))


def _conf(value: float, threshold: float) -> float:
    return round(min(0.99, 0.5 + abs(value - threshold)), 2)
