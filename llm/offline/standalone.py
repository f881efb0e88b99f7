"""Answers and questions that stand alone: pronouns named, no dangling "this", no copied sentence.

A child reads a question and its answer away from the passage (on a worksheet, in a
quiz), so "he", "this fat" or "across these lands" must become who or what they refer
to, or the item is dropped. Resolution uses the passage's own antecedent finder
(``PassageView.antecedent``); anything it is unsure about stays unresolved, and an
unresolved reference drops the item rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from readloom.llm.offline.nlp import crude_stem, wordset
from readloom.llm.offline.passage import PassageView, gender_fits
from readloom.llm.offline.syntax import render

_PERSONAL = wordset("he she it they him her them")
_POSSESSIVE = wordset("his its their")  # "her" is handled with the personal pronouns
_DEMONSTRATIVE = wordset("this that these those such")
_FIRST_SECOND = wordset("i me my mine we us our ours you your yours myself yourself ourselves")
_OBJECT_FORM = {"he": "him", "she": "her", "they": "them"}
PLACEHOLDER_ANSWER = re.compile(r"fits the clue|a thing or idea|a describing word|\.\.\.|…", re.I)
_DANGLING_QUESTION = re.compile(
    r"\b(?:do|did|does|done|doing) so\b|\b(?:this|that|these|those|it|him|them)\s*\?$"
    r"|\b(?:and|or|but|of|to|with|the|a|an)\s*\?$",  # cut off: "…what the raven told him and?"
    re.I,
)
MAX_ANSWER_WORDS = 14
# words a sentence may open with before its subject ("Then the queen thought she …")
_LINKS = "then|so|and|but|now|soon|next|later|still|at last|one day|at once"


def resolved(view: PassageView, ids: Iterable[int], subject: str | None = None) -> str | None:
    """The tokens' text with every pronoun replaced by what it names, or None when one of
    them (or a demonstrative like "this fat") names nothing the reader can find. A
    possessive naming someone ``subject`` already names stays ("What did Bisa wag? her tail")."""
    doc = view.doc
    order = sorted(set(ids))
    subst: dict[int, str] = {}
    last = None  # the name the latest pronoun became

    def said(name: str, n: int) -> bool:
        before = " ".join(subst.get(j, doc[j].text) for j in order[:n])
        return _said(name, before, last)

    for n, i in enumerate(order):
        tok = doc[i]
        low = tok.lower_
        if low == "you" and i > 0 and doc[i - 1].lower_ == "thank":
            continue  # "to say thank you" is nobody in particular
        if low in _FIRST_SECOND:
            return None  # dialogue: "I" and "you" are somebody only the story knows
        if low in _DEMONSTRATIVE and tok.dep_ in ("det", "nsubj", "dobj", "pobj", "attr"):
            return None
        if tok.pos_ != "PRON" and not (low in _POSSESSIVE or low == "her"):
            continue
        if low in _PERSONAL or low == "her":
            probe = tok
            if low == "her" and tok.dep_ == "poss":
                name = _antecedent_for(view, tok, "she")
                if name is None:
                    return None
                if (not subject or name not in subject) and not said(name, n):
                    subst[i] = f"{name}'s"
                last = name
                continue
            name = _antecedent_for(view, probe, _nominative(low))
            if name is None:
                return None
            if not said(name, n):
                subst[i] = name
            last = name
        elif low in ("its", "their"):
            return None  # "depend on its work": things' possessives resolve too unreliably
        elif low in _POSSESSIVE:
            name = _antecedent_for(view, tok, {"his": "he", "its": "it", "their": "they"}[low])
            if name is None:
                return None
            if (not subject or name not in subject) and not said(name, n):
                subst[i] = f"{name}'s" if not name.endswith("s") else f"{name}'"
            last = name
        elif low in ("who", "which", "what", "whom", "whose", "there", "one", "himself",
                     "herself", "itself", "themselves", "something", "nothing", "everything",
                     "anything", "someone", "everyone", "nobody", "somebody", "all", "each",
                     "both", "none", "another", "other", "others"):  # fmt: skip
            continue
    return render(doc, order, subst)


def _said(name: str, before: str, last: str | None) -> bool:
    """A person the text already names keeps their pronoun after that, where the pronoun
    cannot mean anyone else: the text opens with them ("then the queen thought she could
    do as she wished", not "… as the queen wished"), or the pronoun just before was named them
    ("by the Princess's arm and her leg")."""
    opens = rf"(?:(?:{_LINKS}),? )*(?:(?:the|a|an) )?{re.escape(bare_name(name))}\b"
    return name == last or re.match(opens, before.lower()) is not None


def bare_name(name: str) -> str:
    """'The Queen' -> 'queen': one person however the text determines them."""
    return re.sub(r"^(?:the|a|an) ", "", name.lower())


def _nominative(low: str) -> str:
    return {"him": "he", "her": "she", "them": "they"}.get(low, low)


def _antecedent_for(view: PassageView, tok, as_pronoun: str) -> str | None:
    """``view.antecedent`` for a possessive or object form, asked as its subject form; a
    "she" that would name "the king" (or "he", "the queen") names nobody."""
    sent = view.sentence_of(tok)
    if sent is None:
        return None
    if as_pronoun in ("he", "she"):
        return gender_fits(as_pronoun, view._person_before(tok, sent.index))
    if as_pronoun in ("it", "they"):
        return (
            view.antecedent(tok)
            if tok.lower_ in ("it", "they", "them")
            else (view._thing_before(tok, sent.index))
        )
    return None


_LESSON_WORDS = 14


def answer_problem(
    answer: str, evidence: str, question: str, qtype: str | None = None
) -> str | None:
    """A reason code when the answer cannot stand alone, else None. A story's lesson is a
    sentence by nature ("A messy day can still be a good day."): a theme may quote a short
    one whole."""
    text = answer.strip()
    if not text:
        return "empty_answer"
    if PLACEHOLDER_ANSWER.search(text):
        return "placeholder_answer"
    words = text.split()
    low = text.lower().strip(" .!?")
    if low in _PERSONAL or low in _POSSESSIVE or low in _DEMONSTRATIVE or low in _FIRST_SECOND:
        return "dangling_reference"
    if re.match(r"^(this|that|these|those)\b", low):
        return "dangling_reference"
    ev_words = evidence.split()
    lesson = qtype == "theme" and len(ev_words) <= _LESSON_WORDS
    copied = len(ev_words) >= 6 and len(words) >= 0.8 * len(ev_words) and not lesson
    if len(words) > MAX_ANSWER_WORDS or copied:
        return "copied_sentence"
    if _DANGLING_QUESTION.search(question.strip()):
        return "dangling_question"
    return None


def has_dangling_reference(text: str) -> bool:
    """An answer or question that points at something it does not name."""
    low = text.lower().strip(" .!?")
    if low in _PERSONAL or low in _POSSESSIVE or low in _DEMONSTRATIVE:
        return True
    if re.match(r"^(this|that|these|those)\b", low) or re.match(
        r"^(he|she|it|they|him|her|them|his|its|their)\b", low
    ):
        return True
    return bool(_DANGLING_QUESTION.search(text.strip()))


_WORD = re.compile(r"[a-z0-9']+")
_STOP = wordset("""a an the and or but of to in on at by for with from is are was were be been it
    its he she they them his her their this that these those so as not no did do does had has
    have will would can could very""")
_WHOLE_PASSAGE = frozenset({"main_idea", "theme", "text_structure", "author_purpose"})
_VOCAB_WORD = re.compile(r"the word [\"“']([\w'-]+)[\"”']", re.I)


def _stems(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text.lower()):
        w = w.removesuffix("'s").rstrip("'")  # "Mia's brother" is supported by "Mia … her brother"
        if w in _STOP or len(w) < 2:
            continue
        out.add(crude_stem(w))
    return out


def evidence_supports(q) -> bool:
    """Whether the evidence sentence supports the answer, by the question's type.

    Vocabulary: the word asked about is in the evidence (its meaning is read in context).
    Whole-passage types: the evidence is the passage's central sentence, and a main idea's
    words come from it. Any other: most of the answer's content words are in the evidence
    (a resolved pronoun may add a name from the sentence before).
    """
    evidence = q.evidence or ""
    if q.type == "vocabulary":
        m = _VOCAB_WORD.search(q.question)
        return bool(m) and m.group(1).lower() in evidence.lower()
    if q.type in ("text_structure", "author_purpose"):
        return bool(evidence.strip())
    answer = _stems(q.answer)
    if not answer:
        return False
    shared = len(answer & _stems(evidence)) / len(answer)
    return shared >= (0.5 if q.type in _WHOLE_PASSAGE or q.level == "inference" else 0.6)
