"""Prompt-injection detection for student messages and for ingested passages.

Two signals: hand-written patterns (override, role-play, prompt extraction, chat-template
delimiters; English and German, as in deepset/prompt-injections) and a small logistic
regression over character n-grams, trained at build time by ``evals/fit_injection.py`` and
shipped as weights (``data/injection_model.json``); scored here in plain Python, no sklearn.
Passages only use the patterns plus instructions addressed to an AI: the classifier was
trained on chat prompts and would mistake story dialogue for commands.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from readloom.guardrails.base import GuardContext, GuardResult
from readloom.settings import PACKAGE_DATA

MODEL_PATH = PACKAGE_DATA / "injection_model.json"
I = re.IGNORECASE  # noqa: E741

REPLY = (
    "I'm your reading buddy, so I'll stick to helping you with the story. Let's keep going! "
    "What part would you like to look at?"
)

# The classifier's own threshold (cross-validated on deepset) still flags a few ordinary K-12
# messages: children's short answers look like deepset's imperative prompts. For student and
# teacher messages the operating point is the lowest value that keeps the false-positive rate
# on the K-12 *dev* split under 1% (see evals/eval_injection.py; quote the test split).
MESSAGE_THRESHOLD = 0.65

_WS = re.compile(r"\s\s+")


class CharNgramModel:
    """Runtime twin of sklearn's char_wb CountVectorizer(binary) -> l2 -> LogisticRegression."""

    def __init__(self, spec: dict):
        self.lo, self.hi = spec["ngram_range"]
        self.weights: dict[str, float] = spec["weights"]
        self.intercept = float(spec["intercept"])
        self.threshold = float(spec.get("threshold", 0.5))

    def ngrams(self, text: str) -> set[str]:
        grams: set[str] = set()
        for word in _WS.sub(" ", text.lower()).split():
            w = f" {word} "
            for n in range(self.lo, self.hi + 1):
                if len(w) < n:
                    grams.add(w)
                    break
                grams.update(w[i : i + n] for i in range(len(w) - n + 1))
        return grams

    def probability(self, text: str) -> float:
        hits = [self.weights[g] for g in self.ngrams(text) if g in self.weights]
        z = self.intercept + (math.fsum(hits) / math.sqrt(len(hits)) if hits else 0.0)
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=2)
def load_model(path: Path = MODEL_PATH) -> CharNgramModel | None:
    if not path.is_file():
        return None
    return CharNgramModel(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Pattern:
    name: str
    confidence: float
    regex: re.Pattern[str]


def _p(name: str, confidence: float, pattern: str) -> Pattern:
    return Pattern(name, confidence, re.compile(pattern, I))


TARGETS = (
    r"(?:instructions?|prompts?|rules?|directions?|guidelines?|commands?|context|programming"
    r"|restrictions?|system|orders|tasks?|training|everything|all\s+(?:of\s+)?(?:that|this|the\s+above))"
)
MESSAGE_PATTERNS: list[Pattern] = [
    _p("override", 0.95,
       rf"\b(?:ignore|ignor|disregard|forget|bypass|override|abandon|drop|skip)\b[\w\s,'-]{{0,40}}?"
       rf"\b(?:previous|prior|above|earlier|preceding|original|initial|all|your|those|these|any|my)?\s*{TARGETS}\b"),
    _p("override", 0.85,
       r"\b(?:ignore|disregard|forget)\b[\w\s,'-]{0,25}\b(?:the\s+)?(?:passage|story|text|lesson)\b"
       r"[\w\s,'-]{0,40}\b(?:answers?|tell\s+me|give\s+me|just\s+say)"),
    _p("override", 0.9,
       r"\b(?:new|updated|real|actual)\s+(?:instructions?|task|rules?|prompt)\s*[:\-]"),
    _p("role", 0.85,
       r"\b(?:you\s+are\s+now|you'?re\s+now|from\s+now\s+on\s*,?\s+you|you\s+are\s+no\s+longer"
       r"|you\s+will\s+now\s+act|pretend\s+(?:you\s+are|you'?re|ur|u\s+r|that\s+you|to\s+be\s+my)"
       r"|(?:you|u)\s+(?:should\s+|can\s+|must\s+|will\s+|have\s+to\s+)?pretend\s+to\s+be"
       r"|roleplay\s+as|role-play\s+as|new\s+persona)\b"),
    _p("role", 0.85,
       r"(?:^|[.!?]\s*|\b(?:you|u)\s+(?:will\s+|should\s+|must\s+|can\s+|now\s+)?)"
       r"(?:please\s+)?act\s+(?:as|like)\s+(?:an?|my|if|though)\b"),
    _p("jailbreak", 0.95,
       r"\b(?:jailbreak|jail\s*break|dan\s+mode|developer\s+mode|do\s+anything\s+now|god\s+mode"
       r"|unfiltered\s+mode|no\s+restrictions|without\s+(?:any\s+)?(?:restrictions|filters|rules))\b"),
    _p("extraction", 0.85,
       r"\b(?:show|tell|reveal|print|repeat|output|display|give|what\s+(?:is|are|was|were))\b"
       r"[\w\s,'-]{0,20}\b(?:your|the\s+system|the\s+hidden|the\s+initial|the\s+original|secret)\s+"
       r"(?:system\s+)?(?:prompts?|instructions?|rules|guidelines|configuration|messages?)\b"),
    _p("delimiter", 0.95,
       r"(?:<\|im_start\|>|<\|im_end\|>|<\|system\|>|<\|endoftext\|>|\[/?INST\]|<<SYS>>|</?system>"
       r"|^\s*#{2,}\s*(?:system|instruction)|^\s*(?:system|assistant)\s*:|\bbegin\s+(?:system|new)\s+"
       r"(?:prompt|instructions))"),
    _p("override_de", 0.95,
       r"\b(?:ignoriere|ignorieren|vergiss|vergessen|missachte|übergehe)\b[\w\s,äöüß'-]{0,40}"
       r"\b(?:anweisungen|vorherigen?|alles|befehle|regeln|aufgaben|bisherigen|vorgaben|davor)\b"),
    _p("role_de", 0.85,
       r"\b(?:du\s+bist\s+(?:jetzt|nun|ab\s+jetzt)|tu\s+so\s+als|stell\s+dir\s+vor,?\s+du\s+bist"
       r"|ab\s+jetzt\s+bist\s+du|neue\s+aufgabe)\b"),
]  # fmt: skip

# Instructions in a passage that speak to a model rather than to a reader.
PASSAGE_PATTERNS: list[Pattern] = [
    *MESSAGE_PATTERNS,
    _p("addressed_to_ai", 0.9,
       r"\b(?:if\s+you\s+are|you\s+are|dear|attention|note\s+to(?:\s+the)?|hey)\s+(?:an?\s+|the\s+)?"
       r"(?:ai|a\.i\.|artificial\s+intelligence|assistant|language\s+model|llm|chatbot|gpt|claude"
       r"|tutor\s*bot|model)\b"),
    _p("addressed_to_ai", 0.9,
       r"\b(?:ai|assistant|language\s+model|llm|chatbot|tutor)\s*[:,]\s*(?:ignore|you\s+must|always"
       r"|never|do\s+not|don'?t|tell|say|respond|reply|give)\b"),
    _p("answer_leak", 0.85,
       r"\b(?:tell|give|show)\s+(?:the\s+)?(?:students?|children|kids|user|reader)\s+"
       r"(?:the\s+)?(?:answers?|that\s+the\s+answer)"),
    _p("hidden_markup", 0.8, r"<!--|-->|\[hidden\]|display\s*:\s*none|font-size\s*:\s*0"),
]  # fmt: skip
SELF_CORRECTION = re.compile(
    r"^\s*(?:oops,?\s+|sorry,?\s+|wait,?\s+)?(?:ignore|forget|disregard|nvm|never\s*mind)\s+"
    r"(?:that|it|this|what\s+i\s+(?:said|wrote|typed)|my\s+(?:last\s+)?(?:answer|message))\b",
    I,
)
ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u202e]")
SENTENCE = re.compile(r"[^.!?\n]+[.!?]*|\n")


@dataclass(frozen=True)
class InjectionVerdict:
    injected: bool
    risk: float
    rules: tuple[str, ...]
    model_probability: float | None = None


def score_message(
    text: str, *, model: CharNgramModel | None = None, threshold: float | None = MESSAGE_THRESHOLD
) -> InjectionVerdict:
    """Patterns first; the classifier catches paraphrases the patterns do not list.
    ``threshold=None`` uses the classifier's own (deepset-calibrated) threshold."""
    hits = [p for p in MESSAGE_PATTERNS if p.regex.search(text)]
    model = model if model is not None else load_model()
    prob = model.probability(text) if model is not None else None
    pattern_risk = max((p.confidence for p in hits), default=0.0)
    risk = max(pattern_risk, prob or 0.0)
    cut = model.threshold if model is not None and threshold is None else threshold
    by_model = prob is not None and cut is not None and prob >= cut
    if by_model and not hits and SELF_CORRECTION.match(text):
        by_model = False  # "ignore that, i meant B": a child correcting themself
    injected = bool(hits) or by_model
    rules = tuple(dict.fromkeys(p.name for p in hits)) or (("classifier",) if injected else ())
    return InjectionVerdict(
        injected, round(risk, 4), rules, None if prob is None else round(prob, 4)
    )


def check_passage(passage_text: str) -> GuardResult:
    """Use at ingest: a passage with instructions for a model is flagged, and the returned
    text has those sentences (and any zero-width characters) removed."""
    text = ZERO_WIDTH.sub("", passage_text)
    hidden_chars = text != passage_text
    kept: list[str] = []
    rules: list[str] = []
    risk = 0.6 if hidden_chars else 0.0
    for m in SENTENCE.finditer(text):
        sentence = m.group(0)
        hits = [p for p in PASSAGE_PATTERNS if p.regex.search(sentence)]
        if hits:
            rules.extend(p.name for p in hits)
            risk = max(risk, *(p.confidence for p in hits))
            kept.append(" [removed] ")
        else:
            kept.append(sentence)
    cleaned = re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip()
    if not rules:
        return GuardResult(text=text, allowed=True, risk=risk)
    return GuardResult(
        text=cleaned,
        allowed=False,
        risk=round(risk, 4),
        reason="passage_injection",
        severity="medium",
    )


class InjectionGuard:
    """Student/teacher input: deny with a friendly redirect. Passages: see ``check_passage``."""

    name = "injection"

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        if ctx.direction == "passage":
            return check_passage(text)
        verdict = score_message(text)
        if not verdict.injected:
            return GuardResult(text=text, allowed=True, risk=verdict.risk)
        return GuardResult(
            text=text,
            allowed=False,
            risk=verdict.risk,
            reason="injection",
            severity="low",
            scripted_reply=REPLY,
        )
