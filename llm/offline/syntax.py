"""Turn a parsed declarative clause into a wh-question by moving and removing its parts.

"Every evening, Grandma Rosa climbed the old lighthouse to light the great lamp."
  subject question -> "Who climbed the old lighthouse every evening?"
  inverted question, dropping the time phrase -> "When did Grandma Rosa climb the old lighthouse?"
Fronted adjuncts move to the end, adverbial clauses and coordinated predicates are
dropped (questions stay short), and do-support uses the verb's lemma.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from readloom.llm.offline.nlp import is_placeholder, wordset

SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
_DROP_CHILDREN = frozenset(
    {"advcl", "parataxis", "punct", "cc", "mark", "dep", "intj", "meta", "preconj", "discourse"}
)
_MOVABLE = frozenset({"prep", "npadvmod"})
DISCOURSE_ADVERBS = wordset("""instead then soon also finally suddenly later meanwhile next first afterward afterwards
    too however still again once eventually luckily unfortunately quickly now""")
_DO_SUPPORT = {"VBD": "did", "VBZ": "does", "VBP": "do"}
_NEGATIVE = {
    "do": "don't", "does": "doesn't", "did": "didn't", "can": "can't", "could": "couldn't",
    "will": "won't", "would": "wouldn't", "should": "shouldn't", "is": "isn't", "are": "aren't",
    "was": "wasn't", "were": "weren't", "has": "hasn't", "have": "haven't", "had": "hadn't",
    "must": "mustn't", "might": "might not", "may": "may not", "shall": "shall not",
}  # fmt: skip
_CLITICS = {"'ll": "will", "'re": "are", "'ve": "have", "'m": "am", "ca": "can", "wo": "will"}
_SINGULAR = {"are": "is", "were": "was", "have": "has", "do": "does"}
_BARE_INFINITIVE_VERBS = wordset("make let help see watch hear feel have")
_QUOTES = frozenset({'"', "“", "”", "``", "''"})


@dataclass(frozen=True)
class Clause:
    """The parts of one clause a question is built from (token ids into one Doc)."""

    verb: Token
    subject: Token
    subject_ids: frozenset[int]
    ids: frozenset[int]
    fronted: tuple[frozenset[int], ...]
    replace: tuple[tuple[int, str], ...] = ()  # e.g. a pronoun object -> its antecedent

    @property
    def doc(self) -> Doc:
        return self.verb.doc


def subtree_ids(token: Token) -> set[int]:
    return {t.i for t in token.subtree}


def subject_of(verb: Token) -> Token | None:
    for child in verb.lefts:
        if child.dep_ in SUBJECT_DEPS:
            return child
    return None


def analyse(
    verb: Token, drop: Iterable[Token] = (), within: set[int] | None = None
) -> Clause | None:
    """Split ``verb``'s clause into subject, kept tokens and fronted adjuncts."""
    subject = subject_of(verb)
    if subject is None or not _plausible(verb):
        return None
    ids = subtree_ids(verb)
    if within is not None:
        ids &= within
    for tok in drop:
        ids -= subtree_ids(tok)
    fronted: list[frozenset[int]] = []
    for child in verb.children:
        if child.i not in ids or child is subject:
            continue
        part = subtree_ids(child) & ids
        clause_child = child.dep_ == "conj" and child.pos_ in ("VERB", "AUX")
        aside = child.dep_ == "advmod" and (
            child.lower_ in DISCOURSE_ADVERBS or child.i < subject.i
        )
        if child.dep_ in _DROP_CHILDREN or clause_child or aside:
            ids -= part
        elif child.i < subject.i and child.dep_ not in ("aux", "auxpass", "neg"):
            ids -= part
            if child.dep_ in _MOVABLE:
                fronted.append(frozenset(part))
    doc = verb.doc
    for child in verb.rights:
        dropped = child.dep_ in ("advcl", "parataxis", "conj") and child.i not in ids
        if dropped and any(i > child.right_edge.i and not doc[i].is_punct for i in ids):
            return None  # a clause removed from the middle: the parse is not trustworthy
    for i in sorted(ids):
        if i in ids and doc[i].dep_ == "appos":
            ids -= subtree_ids(doc[i])
    ids = {i for i in ids if not doc[i].is_space and doc[i].text not in _QUOTES}
    subject_ids = subtree_ids(subject) & ids
    if not subject_ids or not _clean_subject(doc, subject_ids, verb):
        return None
    return Clause(verb, subject, frozenset(subject_ids), frozenset(ids), tuple(fronted))


def _plausible(verb: Token) -> bool:
    """Reject parses the small model often gets wrong (and the questions they would give)."""
    children = list(verb.children)
    if any(c.dep_ == "expl" for c in children):
        return False
    if any(c.dep_ == "conj" and c.pos_ not in ("VERB", "AUX") for c in children):
        return False
    if sum(c.dep_ == "dobj" for c in children) > 1:
        return False
    for c in children:
        bare = c.dep_ == "xcomp" and c.tag_ == "VB" and not any(a.tag_ == "TO" for a in c.children)
        if bare and verb.lemma_ not in _BARE_INFINITIVE_VERBS:
            return False
    return True


def _clean_subject(doc: Doc, ids: set[int], verb: Token) -> bool:
    """Reject mis-parsed subjects ("The wind howled around the tower, and rain")."""
    lo, hi = min(ids), max(ids)
    if hi >= verb.i or hi - lo + 1 != len(ids):
        return False
    last = doc[hi]
    if last.pos_ not in ("NOUN", "PROPN", "PRON", "NUM") and last.text != ")":
        return False
    if sum(c.dep_ in SUBJECT_DEPS for c in verb.children) > 1:
        return False
    for i in ids:
        tok = doc[i]
        if tok.pos_ in ("VERB", "AUX") and tok.dep_ not in ("amod", "compound", "relcl", "acl"):
            return False
        if tok.dep_ == "cc" and tok.head.pos_ not in ("NOUN", "PROPN"):
            return False
    return True


def render(doc: Doc, ids: Iterable[int], subst: dict[int, str] | None = None) -> str:
    """Text of the kept tokens with their original spacing; sentence-initial words lowered."""
    order = sorted(set(ids))
    subst = subst or {}
    out: list[str] = []
    for n, i in enumerate(order):
        tok = doc[i]
        text = subst.get(i, tok.text)
        if n == 0 and i not in subst and starts_sentence(tok) and not is_proper(tok):
            text = text[:1].lower() + text[1:]
        out.append(text)
        if n + 1 < len(order):
            out.append(tok.whitespace_ if order[n + 1] == i + 1 else " ")
    return tidy("".join(out))


def starts_sentence(tok: Token) -> bool:
    if tok.i == 0 or tok.is_sent_start:
        return True
    prev = tok.doc[tok.i - 1]
    while prev.i > 0 and (prev.text in _QUOTES or prev.text in ("'", "‘")):
        prev = tok.doc[prev.i - 1]
    return (prev.is_space and "\n" in prev.text) or prev.text in (".", "!", "?")


def tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?%)])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"\(\s+", "(", text)
    return text.strip(" ,;:-–—")


def is_proper(tok: Token) -> bool:
    return (
        tok.pos_ == "PROPN"
        or tok.text == "I"
        or is_placeholder(tok)
        or tok.ent_type_ in ("PERSON", "GPE", "LOC", "ORG", "FAC", "NORP", "EVENT")
        and tok.is_title
        and tok.pos_ != "DET"
    )


def phrase(doc: Doc, ids: Iterable[int]) -> str:
    """The exact source text covering ``ids`` (punctuation trimmed at both ends)."""
    order = sorted(i for i in set(ids) if not doc[i].is_space)
    while order and doc[order[0]].is_punct and doc[order[0]].text not in ("$", "("):
        order.pop(0)
    while order and doc[order[-1]].is_punct and doc[order[-1]].text not in ("%", ")"):
        order.pop()
    if not order:
        return ""
    return doc[order[0] : order[-1] + 1].text


def noun_phrase_ids(head: Token) -> set[int]:
    """A noun's own phrase: its left modifiers, and "of" phrases; no clauses or appositives."""
    ids = {t.i for t in head.subtree if t.i <= head.i and t.i >= head.left_edge.i}
    for child in head.rights:
        if (child.dep_ == "prep" and child.lower_ == "of") or child.dep_ in ("compound", "amod"):
            ids |= subtree_ids(child)
    return ids


def _aux_word(tok: Token) -> str:
    low = tok.lower_
    if low in _CLITICS:
        return _CLITICS[low]
    if low == "'s":
        return "has" if tok.head.tag_ == "VBN" else "is"
    if low == "'d":
        return "had" if tok.head.tag_ == "VBN" else "would"
    return low


def _tail(clause: Clause) -> str:
    doc = clause.doc
    parts = [render(doc, part) for part in clause.fronted]
    return " ".join(p for p in parts if p)


def _verb_lemma(verb: Token) -> str:
    lemma = verb.lemma_
    return lemma if verb.pos_ == "PROPN" else lemma.lower()


def third_person(lemma: str) -> str:
    if lemma in ("be", "have", "do", "go"):
        return {"be": "is", "have": "has", "do": "does", "go": "goes"}[lemma]
    if re.search(r"(s|sh|ch|x|z|o)$", lemma):
        return lemma + "es"
    if re.search(r"[^aeiou]y$", lemma):
        return lemma[:-1] + "ies"
    return lemma + "s"


def subject_question(clause: Clause, wh: str) -> str | None:
    """'Tobias climbed the tower at dusk.' -> 'Who climbed the tower at dusk?'"""
    doc, verb = clause.doc, clause.verb
    rest = set(clause.ids - clause.subject_ids)
    if not rest or min(rest) < max(clause.subject_ids):
        return None
    subst: dict[int, str] = dict(clause.replace)
    finite = next((c for c in verb.lefts if c.dep_ in ("aux", "auxpass") and c.i in rest), verb)
    # a bare "VB" with a subject and no auxiliary is the parser's miss for a plural present
    # ("Mia and Leo walk to school" -> "Who walks to school?", not "Who walk …?")
    bare_present = finite is verb and verb.tag_ == "VB" and verb.dep_ == "ROOT"
    if finite.lower_ in _SINGULAR:
        subst[finite.i] = _SINGULAR[finite.lower_]
    elif finite.tag_ == "VBP" or bare_present:
        subst[finite.i] = third_person(_verb_lemma(finite))
    body = render(doc, rest, subst)
    tail = _tail(clause)
    return _question(f"{wh} {body} {tail}")


def inverted_question(clause: Clause, wh: str, subject_text: str | None = None) -> str | None:
    """'Tobias climbed the tower at dusk.' minus 'at dusk' -> 'When did Tobias climb the tower?'"""
    doc, verb = clause.doc, clause.verb
    remove = set(clause.subject_ids)
    subst: dict[int, str] = dict(clause.replace)
    auxes = [c for c in verb.lefts if c.dep_ in ("aux", "auxpass") and c.i in clause.ids]
    auxes = [a for a in auxes if a.tag_ != "TO"]
    if auxes and auxes[0].i > max(clause.subject_ids):
        lead = _aux_word(auxes[0])
        remove.add(auxes[0].i)
    elif verb.lemma_ == "be" and verb.i in clause.ids:
        lead = _aux_word(verb)
        remove.add(verb.i)
    elif verb.tag_ in _DO_SUPPORT:
        lead = _DO_SUPPORT[verb.tag_]
        subst[verb.i] = _verb_lemma(verb)
    else:
        return None
    negs = [c for c in verb.children if c.dep_ == "neg" and c.lower_ in ("not", "n't")]
    if negs:
        lead = _NEGATIVE.get(lead, f"{lead} not")
        remove |= {n.i for n in negs}
    subject = subject_text or render(doc, clause.subject_ids)
    rest = render(doc, clause.ids - remove, subst)
    return _question(f"{wh} {lead} {subject} {rest} {_tail(clause)}")


def declarative(clause: Clause, subject_text: str | None = None) -> str:
    """The clause as a short statement, e.g. for 'What happened after Tobias climbed the tower?'"""
    doc = clause.doc
    subject = subject_text or render(doc, clause.subject_ids)
    rest = render(doc, clause.ids - clause.subject_ids)
    return tidy(f"{subject} {rest}")


def _question(text: str) -> str | None:
    text = tidy(text)
    if len(text.split()) < 3 or any(q in text for q in _QUOTES):
        return None
    return text[:1].upper() + text[1:] + "?"


SHORT_ANSWER_WORDS = 10


def core_prefix(doc: Doc, ids: Iterable[int], limit: int = SHORT_ANSWER_WORDS) -> set[int]:
    """A long answer cut before a modifier that runs to its end ("she was a proud, insolent
    woman, who did not behave kindly …" -> "she was a proud, insolent woman"), so an answer
    stays a phrase and stays verbatim (only a tail is cut). Short answers are kept whole."""
    order = sorted(i for i in set(ids) if not doc[i].is_space)
    while True:
        words = [i for i in order if not doc[i].is_punct]
        if len(words) <= limit:
            return set(order)
        cut = _cut_tail(doc, order, words[-1])
        if cut is None:
            return set(order)
        order = cut  # "…woman, who did not …, and who spent …": one tail at a time


def _cut_tail(doc: Doc, order: list[int], last: int) -> list[int] | None:
    kept = set(order)
    for i in order:
        tok = doc[i]
        if not _is_tail(tok, last) or tok.head.i not in kept or tok.head.i > i:
            continue
        prefix = [j for j in order if j < tok.left_edge.i]
        while prefix and (doc[prefix[-1]].is_punct or doc[prefix[-1]].dep_ in ("cc", "mark")):
            prefix.pop()
        if sum(not doc[j].is_punct for j in prefix) >= 3:
            return prefix
    return None


_TRAILING = frozenset(
    {"conj", "cc", "punct", "relcl", "appos", "advcl", "acl", "parataxis", "prep"}
)


def _is_tail(tok: Token, last: int) -> bool:
    """A clause-like modifier after which the answer has only more of the same (", and who
    spent …"): cutting there leaves no gap."""
    later = [c for c in tok.head.children if c.i > tok.right_edge.i]
    end = max([tok.right_edge.i] + [c.right_edge.i for c in later if c.dep_ in _TRAILING])
    if end < last or any(c.dep_ not in _TRAILING for c in later if c.i <= last):
        return False
    if tok.dep_ in ("relcl", "appos", "advcl", "parataxis"):
        return True
    if tok.dep_ == "acl":
        return tok.tag_ in ("VBG", "VBN")  # "lying in the sea"; not "the courage to go"
    return tok.dep_ == "conj" and tok.pos_ in ("VERB", "AUX")  # a second clause, not "and breadth"
