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
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from readloom.guardrails.base import GuardContext, GuardResult
from readloom.guardrails.obfuscation import (
    INVISIBLE,
    base64_decodings,
    decoded_views,
    despell,
    normalize,
    tag_payload,
)
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
       r"|</?\s*(?:passage_title|passage|excerpts|student_message)\s*>"
       r"|^\s*#{2,}\s*(?:system|instruction)|^\s*(?:system|assistant)\s*:|\bbegin\s+(?:system|new)\s+"
       r"(?:prompt|instructions))"),
    _p("override_de", 0.95,
       r"\b(?:ignoriere|ignorieren|vergiss|vergessen|missachte|übergehe)\b[\w\s,äöüß'-]{0,40}"
       r"\b(?:anweisungen|vorherigen?|alles|befehle|regeln|aufgaben|bisherigen|vorgaben|davor)\b"),
    _p("role_de", 0.85,
       r"\b(?:du\s+bist\s+(?:jetzt|nun|ab\s+jetzt)|tu\s+so\s+als|stell\s+dir\s+vor,?\s+du\s+bist"
       r"|ab\s+jetzt\s+bist\s+du|neue\s+aufgabe)\b"),
    # Spanish, French, Portuguese, Italian: the languages readloom's families write in most
    _p("override_intl", 0.95,
       r"\b(?:ignora|ignore[sz]?|ignorar|ignorer|olvida|olvidar|olvídate|oublie[sz]?|oublier"
       r"|esquece|esqueça|esquecer|dimentica|dimenticare|omite|salta)\b[\w\s,áéíóúñàèêçãõôüï'-]{0,40}"
       r"\b(?:instrucciones|instrucción|indicaciones|reglas|órdenes|instructions?|consignes|règles"
       r"|instruções|instrucoes|regras|istruzioni|regole|todo\s+lo\s+anterior|tout\s+ce\s+qui"
       r"|anteriores|précédentes|precedenti|anteriori)\b"),
    _p("role_intl", 0.85,
       r"\b(?:ahora\s+eres|a\s+partir\s+de\s+ahora\s+eres|finge\s+(?:que\s+)?(?:eres|ser)"
       r"|actúa\s+como|tu\s+es\s+maintenant|à\s+partir\s+de\s+maintenant,?\s+tu|fais\s+comme\s+si"
       r"|agora\s+você\s+é|finja\s+(?:que\s+)?(?:é|ser)|ora\s+sei|fingi\s+di\s+essere)\b"),
    _p("extraction_intl", 0.85,
       r"\b(?:muestra|revela|dime|montre|révèle|dis-moi|mostra|revele|rivela)\b[\w\s,'-]{0,20}"
       r"\b(?:tus|tu|tes|ton|vos|suas|seu|tue|il\s+tuo|le\s+tue)\s+(?:instrucciones|prompt"
       r"|instructions|consignes|instruções|istruzioni|reglas|règles)\b"),
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
# Feelings about the work: boredom, frustration, confusion, wanting to stop. Said without a
# word about the model's behaviour ("this is boring i hate reading", "i dont get it", "can
# we stop"), it is a child talking, and the n-gram classifier alone may not block it (a
# pattern still can). Narrow on purpose: the classifier's paraphrase recall is kept.
CHILD_TALK = re.compile(
    r"\b(?:bor(?:ing|ed)|hate|dont\s+get|don'?t\s+get|do\s+not\s+get|confus\w*|stop|quit"
    r"|tired|dumb|stupid|annoying|ugh+|whatever|idk|dont\s+know|don'?t\s+know|hard|too\s+long"
    r"|give\s+up|no\s+fair|unfair|sick\s+of|done\s+with|fed\s+up|sucks?|lame|hungry|sleepy"
    r"|i\s+(?:can'?t|cant)\s+do|this\s+is\s+(?:so\s+)?(?:bad|hard|long)|why\s+do\s+i\s+have)\b",
    I,
)
# How a child's answer starts ("it means...", "because...", "he was..."): with no word about
# the model, an answer to the question, whatever the classifier makes of its n-grams.
ANSWER_SHAPED = re.compile(
    r"^\s*(?:it\s+means|it'?s\s+when|that\s+means|because|cuz|cause|becuz|bc|he|she|they"
    r"|it\s+was|i\s+think|maybe|probably|the|his|her|their)\b",
    I,
)
MODEL_DIRECTED = re.compile(
    r"\b(?:you|your|youre|yourself|u|ur|ignore|ignoring|disregard|override|bypass|instructions?"
    r"|prompts?|system|pretend|roleplay|act|acting|persona|mode|jailbreak|respond|reply|output"
    r"|print|repeat|reveal|assistant|ai|bot|chatbot|gpt|chatgpt|model|llm|programm(?:ed|ing)?"
    r"|rules?|restrictions?|filters?|previous|above|command|execute|admin|developer|forget"
    r"|du|dein|deine|tu|tus|vous|você|eres|sei|anweisungen|instrucciones|instruções|istruzioni)\b",
    I,
)
# Small talk a child makes with the tutor ("what's your favorite video game", "do you like
# dogs"): about the tutor's likes, not its instructions. Short, and with none of the words an
# instruction to a model needs (INSTRUCTION_WORDS), it is off-topic chat for the planner to
# redirect, whatever the classifier makes of "what's your ...".
SMALL_TALK = re.compile(
    r"^\s*(?:hey|hi|so|um+|and)?[\s,]*(?:what'?s|whats|what\s+(?:is|are|do|did)|which|do|did"
    r"|have|can|are|wanna)\s+(?:you|your|u|ur)\b(?:\s+[\w']+){0,3}?\s+(?:favou?rites?|like|likes"
    r"|love|play|watch|eat|pets?|colou?r|age|old|dogs?|cats?|games?|food|movies?|shows?|sports?"
    r"|songs?|books?|birthday)\b",
    I,
)
INSTRUCTION_WORDS = re.compile(
    r"\b(?:ignore|ignoring|disregard|override|bypass|instructions?|prompts?|system|pretend"
    r"|roleplay|persona|mode|jailbreak|reveal|rules?|restrictions?|filters?|previous|above"
    r"|command|execute|admin|developer|forget|secret|password|answer|answers|key)\b",
    I,
)
SENTENCE = re.compile(r"[^.!?\n]+[.!?]*|\n")
# Dialogue in a story: a quotation with a speech tag beside it. What a character says is
# part of the story, not an instruction to the model.
SPEECH_VERB = (
    r"(?:said|says|say|asked|asks|cried|shouted|yelled|whispered|replied|called|roared|muttered"
    r"|answered|exclaimed|added|laughed|growled|told|warned|snapped|sang|begged|insisted|grumbled"
    r"|explained|declared|sighed|screamed|murmured|continued|ordered|commanded"
    r"|dit|demanda|cria|répondit|murmura|dijo|gritó|preguntó|respondió|disse|gritou|sagte|rief)"
)
QUOTED = re.compile(r"[\"“„«]([^\"“”„«»\n]{1,600})[\"”“»]")
TAG_AFTER = re.compile(rf"^\s*,?\s*(?:[^\W\d_]+\s+){{0,4}}?{SPEECH_VERB}\b", I)
TAG_BEFORE = re.compile(rf"\b{SPEECH_VERB}\b[^.!?\"“”]{{0,40}}[,:]?\s*$", I)
# Patterns that refuse even inside dialogue: they address the model or hide text from readers.
NOT_DIALOGUE = frozenset({"addressed_to_ai", "answer_leak", "hidden_markup", "delimiter"})


@dataclass(frozen=True)
class InjectionVerdict:
    injected: bool
    risk: float
    rules: tuple[str, ...]
    model_probability: float | None = None


def score_message(
    text: str, *, model: CharNgramModel | None = None, threshold: float | None = MESSAGE_THRESHOLD
) -> InjectionVerdict:
    """Patterns first (on every decoded view of the text: normal form, spelled-out letters,
    leetspeak, base64, hidden tag characters); the classifier catches paraphrases the patterns
    do not list. ``threshold=None`` uses the classifier's own (deepset-calibrated) threshold."""
    views = decoded_views(text)
    hits = [p for p in MESSAGE_PATTERNS if any(p.regex.search(v) for v in views)]
    model = model if model is not None else load_model()
    norm = views[0] if views else text
    prob = model.probability(norm) if model is not None else None
    pattern_risk = max((p.confidence for p in hits), default=0.0)
    risk = max(pattern_risk, prob or 0.0)
    cut = model.threshold if model is not None and threshold is None else threshold
    by_model = prob is not None and cut is not None and prob >= cut
    if by_model and not hits and SELF_CORRECTION.match(norm):
        by_model = False  # "ignore that, i meant B": a child correcting themself
    talk = CHILD_TALK.search(norm) or ANSWER_SHAPED.match(norm)
    if by_model and not hits and talk and not MODEL_DIRECTED.search(norm):
        by_model = False  # a feeling about the work, nothing about the model: a child talking
    small_talk = SMALL_TALK.match(norm) and len(norm.split()) <= 10
    if by_model and not hits and small_talk and not INSTRUCTION_WORDS.search(norm):
        by_model = False  # "what's your favorite video game": chat, redirected by the planner
    injected = bool(hits) or by_model
    rules = tuple(dict.fromkeys(p.name for p in hits)) or (("classifier",) if injected else ())
    return InjectionVerdict(
        injected, round(risk, 4), rules, None if prob is None else round(prob, 4)
    )


def dialogue_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of quoted speech that carries a speech tag ("...," said the pirate)."""
    spans = []
    for m in QUOTED.finditer(text):
        if TAG_AFTER.match(text[m.end() : m.end() + 60]) or TAG_BEFORE.search(
            text[max(0, m.start() - 60) : m.start()]
        ):
            spans.append(m.span())
    return spans


def _sentence_hits(sentence: str, offset: int, dialogue: list[tuple[int, int]]) -> list[Pattern]:
    hits = []
    for p in PASSAGE_PATTERNS:
        for m in p.regex.finditer(sentence):
            start, end = offset + m.start(), offset + m.end()
            spoken = any(s <= start and end <= e for s, e in dialogue)
            if not spoken or p.name in NOT_DIALOGUE:
                hits.append(p)
                break
    return hits


def check_passage(passage_text: str) -> GuardResult:
    """Use at ingest: a passage with instructions for a model is flagged, and the returned
    text has those sentences (and any invisible characters) removed. Dialogue between
    characters is story, not instruction; text hidden in tag characters is refused."""
    hidden = tag_payload(passage_text)
    text = normalize(passage_text)
    hidden_chars = len(text) != len(unicodedata.normalize("NFKC", passage_text))
    dialogue = dialogue_spans(text)
    kept: list[str] = []
    rules: list[str] = []
    risk = 0.6 if hidden_chars else 0.0
    if re.search(r"[^\W\d_]{3,}", hidden):
        rules.append("hidden_markup")
        risk = 0.9
    for m in SENTENCE.finditer(text):
        sentence = m.group(0)
        hits = _sentence_hits(sentence, m.start(), dialogue)
        for view in [v for v in (despell(sentence), *base64_decodings(sentence)) if v != sentence]:
            hits += [p for p in PASSAGE_PATTERNS if p.regex.search(normalize(view))]
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


def check_metadata(fields: dict[str, str]) -> str | None:
    """A passage's title, characters, topics and source reach prompts too: the name of the
    first field that carries an instruction, a delimiter or invisible characters, else None."""
    for name, value in fields.items():
        if not value:
            continue
        if INVISIBLE.search(value) or "\x00" in value:
            return name
        views = decoded_views(value)
        if any(p.regex.search(v) for p in PASSAGE_PATTERNS for v in views):
            return name
    return None


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
