"""The names a passage gives its people and things: "the keeper", "the old man" -> Tobias.

A grader must accept "the keeper" for *Tobias* when the text calls him that. No
coreference model ships offline (the neural ones need weights we cannot fetch), so this
is rule-based on the spaCy parse, in the classical way:

- a name followed by a description: "Tobias the lighthouse keeper", "Wren, his
  granddaughter" (appositives);
- naming: "a fisherman named Mr. Santos", "an old man called Tobias";
- copulas: "Tobias was an old man", "His master was a rich merchant";
- nearest-antecedent coreference for definite person descriptions ("the old man" refers
  to the last named character of a matching gender, within two sentences).

Every description also yields its head noun ("the lighthouse keeper" -> "keeper").
Computed once per passage text and cached.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field

from cachetools import LRUCache
from spacy.tokens import Doc, Span, Token

from readloom.llm.offline.nlp import DEFAULT_MODEL, FUNCTION_WORDS, PERSON_NOUNS, parse, wordset

_MALE = wordset("""he him his himself man men boy king prince father dad grandfather grandpa son
    brother uncle husband gentleman sir lord master mr""")
_FEMALE = wordset("""she her hers herself woman women girl queen princess mother mom mum
    grandmother grandma daughter sister aunt wife lady mrs ms miss""")
_NAMING = wordset("named called")
_GENERIC = wordset("person people family place thing things way part one time day")
_DETS = wordset("the a an his her their its my our your this that")
# People the stories name by their role (on top of nlp.PERSON_NOUNS).
_ROLES = wordset("""merchant servant master mistress miller shepherd peddler woodcutter giant
    witch wizard fairy dwarf stepmother stepdaughter orphan widow hermit beggar traveller
    traveler stranger lad lass maiden youth fisherman fishermen keeper baker cook rider
    sailor knight squire emperor empress sultan chief elder""")
_MAX_DESC_WORDS = 5


@dataclass
class Entity:
    name: str  # canonical form (the proper name when the text gives one)
    descriptions: set[str] = field(default_factory=set)
    gender: str | None = None


@dataclass(frozen=True)
class AliasTable:
    """Lower-cased phrase -> canonical name; longest phrases first for replacement."""

    phrases: tuple[tuple[str, str], ...]

    def canonical(self, text: str) -> str:
        """``text`` with every alias phrase replaced by its entity's name."""
        out = f" {text.lower()} "
        for phrase, name in self.phrases:
            if phrase in out:
                out = re.sub(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", name.lower(), out)
        return out.strip()

    def names(self) -> set[str]:
        return {name.lower() for _, name in self.phrases}

    def described(self, words: set[str]) -> str | None:
        """The one entity whose descriptions use any of ``words`` ("lighthouse" -> Tobias)."""
        hits = {
            name for phrase, name in self.phrases
            if words & (set(phrase.split()) - _DETS - FUNCTION_WORDS)
        }  # fmt: skip
        return next(iter(hits)) if len(hits) == 1 else None


EMPTY = AliasTable(phrases=())


# A table is a few dozen short phrases, so thousands of passages fit in little memory; a
# server with many classes on many passages must not re-parse a passage every turn (a
# full parse of a section costs more than the rest of grading). Keyed by a digest of the
# text, so the cache holds no passage text.
_TABLES: LRUCache[tuple[str, str], AliasTable] = LRUCache(maxsize=4096)
_tables_lock = threading.Lock()


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def passage_aliases(text: str, model: str = DEFAULT_MODEL) -> AliasTable:
    """The passage's alias table, built once per passage text and model."""
    if not text or not text.strip():
        return EMPTY
    key = (text_digest(text), model)
    with _tables_lock:
        table = _TABLES.get(key)
    if table is None:
        table = _build_table(text, model)
        with _tables_lock:
            _TABLES[key] = table
    return table


def _build_table(text: str, model: str) -> AliasTable:
    doc = parse(text, model)
    entities = _entities(doc)
    phrases: dict[str, str] = {}
    for ent in entities.values():
        for desc in ent.descriptions:
            for phrase in _variants(desc):
                if phrase != ent.name.lower() and phrase not in FUNCTION_WORDS:
                    phrases.setdefault(phrase, ent.name)
    ordered = sorted(phrases.items(), key=lambda kv: -len(kv[0]))
    return AliasTable(phrases=tuple(ordered))


def _entities(doc: Doc) -> dict[str, Entity]:
    names: dict[str, Entity] = {}
    for ent in doc.ents:
        if ent.label_ == "PERSON":
            key = _strip_title(ent.text)
            names.setdefault(key.lower(), Entity(name=key))
    for tok in doc:  # names spaCy's NER missed: title-case proper nouns outside sentence starts
        if tok.pos_ == "PROPN" and tok.is_title and tok.i > tok.sent.start:
            names.setdefault(tok.text.lower(), Entity(name=tok.text))
    for key, ent in names.items():
        ent.gender = _gender_after(doc, key)
    for tok in doc:
        _appositions(tok, names)
        _naming(tok, names)
        _copula(tok, names)
    _nearest_antecedent(doc, names)
    return names


def _strip_title(name: str) -> str:
    name = re.sub(r"^(?:the|a|an)\s+", "", name.strip(), flags=re.I)
    return re.sub(r"(?:'s|’s)$", "", name).strip(" ,.")


def _entity_for(tok: Token, names: dict[str, Entity]) -> Entity | None:
    span = _name_span(tok)
    return names.get(span.lower()) or names.get(tok.text.lower())


def _name_span(tok: Token) -> str:
    """The whole name a PROPN token belongs to ("Mr." + "Santos")."""
    left = [t for t in tok.lefts if t.dep_ == "compound" and t.pos_ == "PROPN"]
    words = [t.text for t in left] + [tok.text]
    return _strip_title(" ".join(words))


def _description(tok: Token) -> str | None:
    """The noun phrase headed by ``tok``, without relative clauses, at most a few words."""
    if tok.pos_ != "NOUN":
        return None
    possessed = {d.i for c in tok.children if c.dep_ == "poss" for d in c.subtree}
    words = [
        t for t in tok.subtree
        if t.i <= tok.i and t.dep_ not in ("relcl", "punct", "case") and t.i not in possessed
    ]  # fmt: skip
    words = [t for t in words if t.i >= tok.i - _MAX_DESC_WORDS]
    # keep only the contiguous run ending at the head
    run: list[Token] = []
    for t in reversed(words):
        if run and t.i != run[-1].i - 1:
            break
        run.append(t)
    phrase = " ".join(t.lower_ for t in reversed(run))
    return phrase if phrase and tok.lemma_.lower() not in _GENERIC else None


def _variants(desc: str) -> set[str]:
    """'his old lighthouse keeper' -> itself, 'the old lighthouse keeper', 'the keeper',
    'keeper', 'the lighthouse keeper', 'lighthouse keeper', …"""
    words = desc.split()
    if words and words[0] in _DETS:
        words = words[1:]
    if not words:
        return set()
    head = words[-1]
    out = {desc, " ".join(words)}
    for i in range(len(words)):
        tail = " ".join(words[i:])
        out |= {tail, f"the {tail}", f"a {tail}", f"an {tail}"}
    out.add(head)
    return {p for p in out if p.split()[-1] == head}


def _appositions(tok: Token, names: dict[str, Entity]) -> None:
    if tok.dep_ == "appos":
        a, b = tok.head, tok
        for name_tok, desc_tok in ((a, b), (b, a)):
            ent = _entity_for(name_tok, names) if name_tok.pos_ == "PROPN" else None
            desc = _description(desc_tok)
            if ent and desc:
                ent.descriptions.add(desc)
    # "Tobias the lighthouse keeper": a name directly followed by a definite description
    if tok.pos_ == "PROPN" and tok.i + 1 < len(tok.doc) and tok.doc[tok.i + 1].lower_ == "the":
        if tok.is_title and _entity_for(tok, names) is None:  # a name opening the sentence
            names[tok.text.lower()] = Entity(name=tok.text)
        ent = _entity_for(tok, names)
        head = _noun_after(tok.doc, tok.i + 1)
        if ent and head is not None:
            desc = _description(head)
            if desc:
                ent.descriptions.add(desc)


def _noun_after(doc: Doc, start: int) -> Token | None:
    for t in doc[start + 1 : start + 1 + _MAX_DESC_WORDS]:
        if t.pos_ == "NOUN" and (t.i + 1 >= len(doc) or doc[t.i + 1].pos_ != "NOUN"):
            return t
        if t.pos_ not in ("ADJ", "NOUN", "PROPN", "PART"):
            return None
    return None


def _naming(tok: Token, names: dict[str, Entity]) -> None:
    """'a fisherman named Mr. Santos': the noun before 'named' describes the name after."""
    if tok.lower_ not in _NAMING or tok.i + 1 >= len(tok.doc):
        return
    nxt = next((t for t in tok.doc[tok.i + 1 : tok.i + 4] if t.pos_ == "PROPN"), None)
    noun = tok.head if tok.head.pos_ == "NOUN" else None
    if noun is None and tok.i > 0 and tok.doc[tok.i - 1].pos_ == "NOUN":
        noun = tok.doc[tok.i - 1]
    if nxt is None or noun is None:
        return
    last = nxt
    while last.i + 1 < len(tok.doc) and tok.doc[last.i + 1].pos_ == "PROPN":
        last = tok.doc[last.i + 1]
    ent = _entity_for(last, names)
    desc = _description(noun)
    if ent and desc:
        ent.descriptions.add(desc)


def _copula(tok: Token, names: dict[str, Entity]) -> None:
    """'Tobias was an old man' / 'His master was a merchant'."""
    if tok.lemma_ != "be" or tok.dep_ not in ("ROOT", "conj", "ccomp"):
        return
    subj = next((c for c in tok.children if c.dep_ == "nsubj"), None)
    attr = next((c for c in tok.children if c.dep_ == "attr" and c.pos_ == "NOUN"), None)
    if subj is None or attr is None:
        return
    if subj.pos_ == "PROPN":
        ent = _entity_for(subj, names)
        desc = _description(attr)
        if ent and desc:
            ent.descriptions.add(desc)
    elif subj.pos_ == "NOUN" and _is_personish(subj):
        desc, other = _description(subj), _description(attr)
        if desc and other:  # two descriptions of one unnamed person
            ent = names.setdefault(desc, Entity(name=desc))
            ent.descriptions.add(other)


def _is_personish(tok: Token) -> bool:
    low = tok.lemma_.lower()
    return low in PERSON_NOUNS or low in _ROLES or low in _MALE or low in _FEMALE


def _gender_of_words(words: list[str]) -> str | None:
    for w in words:
        if w in _MALE:
            return "m"
        if w in _FEMALE:
            return "f"
    return None


def _gender_after(doc: Doc, name: str) -> str | None:
    """The first gendered pronoun after the name's first mention, in its sentence or the next."""
    first = name.split()[0]
    for sent in doc.sents:
        toks = [t.lower_ for t in sent]
        if first in toks:
            idx = toks.index(first)
            nxt = next((s for s in doc.sents if s.start >= sent.end), None)
            window = toks[idx + 1 :] + ([t.lower_ for t in nxt] if nxt is not None else [])
            pronouns = [w for w in window if w in ("he", "him", "his", "she", "her", "hers")]
            return _gender_of_words(pronouns)
    return None


def _nearest_antecedent(doc: Doc, names: dict[str, Entity]) -> None:
    """'the old man' -> the last named character (gender-compatible) in the last 2 sentences."""
    sents: list[Span] = list(doc.sents)
    for si, sent in enumerate(sents):
        for tok in sent:
            if tok.pos_ != "NOUN" or not _is_personish(tok) or tok.dep_ == "compound":
                continue
            det = next((c for c in tok.children if c.dep_ == "det"), None)
            if det is None or det.lower_ != "the":
                continue
            desc = _description(tok)
            if not desc:
                continue
            words = desc.split()
            gender = _gender_of_words(words)
            ent = _last_named(sents, si, tok.i, names, gender)
            if ent is not None:
                ent.descriptions.add(desc)


def _last_named(
    sents: list[Span], si: int, before: int, names: dict[str, Entity], gender: str | None
) -> Entity | None:
    for sent in reversed(sents[max(0, si - 2) : si + 1]):
        for tok in reversed([t for t in sent if t.i < before]):
            if tok.pos_ != "PROPN":
                continue
            ent = _entity_for(tok, names)
            if ent is None:
                continue
            if gender and ent.gender and gender != ent.gender:
                continue
            return ent
    return None
