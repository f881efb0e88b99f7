"""Text measures the suites judge with. Deliberately independent of the code under test
(``agents/evaluator.py``, ``llm/offline/leak.py``): a check must not grade itself."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP_TEXT = (
    "a an the and or but if of to in on at by for with from about as into onto over under "
    "is are was were be been being am do does did done has have had having will would shall "
    "should can could may might must it its it's he she they them him her his hers their theirs "
    "i me my mine you your yours we us our ours this that these those there here then than "
    "so because not no yes very just also too what who whom whose where when why how which "
    "out up down off all any some each one"
)
STOPWORDS = frozenset(_STOP_TEXT.split())


def tokens(text: str) -> list[str]:
    """ROUGE tokenization (as rouge-score does): lowercase, split on non-alphanumerics."""
    return _TOKEN.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (beta = 1) from the longest common subsequence of tokens."""
    c, r = tokens(candidate), tokens(reference)
    lcs = lcs_length(c, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(c), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def best_rouge_l(candidate: str, references: list[str]) -> float:
    return max((rouge_l(candidate, r) for r in references), default=0.0)


def stem(word: str) -> str:
    """A light suffix strip so 'jumped'/'jumps'/'jumping' meet; enough for overlap tests."""
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    words = (w.replace("'s", "") for w in _WORD.findall(text.lower().replace("\u2019", "'")))
    return {stem(w) for w in words if w not in STOPWORDS and len(w) > 1}


def normalized(text: str) -> str:
    return " ".join(tokens(text))


def leaks_answer(reply: str, answer: str, question: str = "") -> bool:
    """Does a tutoring reply give away the answer?

    Yes when the answer phrase appears in the reply, or when the reply contains every
    content word of the answer that the question itself does not already say. What the
    question itself quotes (a context-clue question) is not counted against the reply.
    """
    phrase = normalized(answer)
    in_question = phrase and f" {phrase} " in f" {normalized(question)} "
    if phrase and not in_question and f" {phrase} " in f" {normalized(reply)} ":
        return True
    telling = content_words(answer) - content_words(question)
    return bool(telling) and telling <= content_words(reply)


def supported_by(answer: str, evidence: str, *, min_share: float = 1.0) -> bool:
    """True when (at least ``min_share`` of) the answer's content words are in the evidence."""
    words = content_words(answer)
    if not words:
        return bool(normalized(answer)) and normalized(answer) in normalized(evidence)
    return len(words & content_words(evidence)) / len(words) >= min_share - 1e-9


_GAP = re.compile(r"_{2,}|\u2026|\.\.\.")


def quote_in_text(quote: str, text: str) -> bool:
    """A quotation is faithful when every piece of it between gaps ("___", "…") is
    verbatim (up to case and punctuation) in the text."""
    target = f" {normalized(text)} "
    pieces = [normalized(p) for p in _GAP.split(quote)]
    return all(f" {p} " in target for p in pieces if p)
