"""Presidio recognizers for school life, beyond Presidio's defaults: people and places.

Children write names in lowercase or ALL CAPS and mention teachers by title ("mrs okafor",
"Mr. K"), their school and their room. Numbers, handles and addresses are in
``identifiers.py``; given names in ``names.py``. Each is a plain Presidio ``LocalRecognizer``
so the analyzer runs them with its own (spaCy) pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from readloom.guardrails.lexicon import Lexicon, load_lexicon

I = re.IGNORECASE  # noqa: E741 - the usual regex flag alias

KIN = (
    r"(?:friends?|bff|bestie|buddy|pal|mom|mum|mommy|mama|momma|mother|dad|daddy|papa|father"
    r"|parents?|brothers?|bro|sisters?|sis|siblings?|cousins?|cuz|aunt|auntie|aunty|tia|tía"
    r"|uncle|tio|tío|grandma|grandpa|granny|grandmother|grandfather|nana|nanna|abuela|abuelo"
    r"|lola|lolo|stepdad|stepmom|stepbrother|stepsister|neighbou?rs?|classmates?|partner"
    r"|crush|girlfriend|boyfriend|babysitter|nanny|bestfriend|bestfriends|twins?)"
)
KIN_ADJ = (
    r"(?:(?:best|little|lil|big|older|younger|baby|twin|step|new|other|good|old"
    r"|lab|reading|science|math|study|project|group|table|desk|seat|class)\s+)*"
)  # "my lab partner", "my reading buddy"


def _result(entity: str, start: int, end: int, score: float, rec: LocalRecognizer):
    return RecognizerResult(
        entity_type=entity,
        start=start,
        end=end,
        score=score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: rec.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: rec.id,
        },
    )


@dataclass(frozen=True)
class Rule:
    """One regex; ``group`` names the part that is personal data (the cue is left in clear)."""

    regex: re.Pattern[str]
    score: float
    group: str | int = "v"
    check: Callable[[re.Match[str], str], bool] | None = None


class RuleRecognizer(LocalRecognizer):
    """A recognizer made of regex rules whose match *group* is the entity."""

    def __init__(self, entity: str, rules: Sequence[Rule], *, name: str):
        self.entity = entity
        self.rules = tuple(rules)
        super().__init__(supported_entities=[entity], supported_language="en", name=name)

    def load(self) -> None:  # regexes are compiled at import
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None):
        out: list[RecognizerResult] = []
        for rule in self.rules:
            for m in rule.regex.finditer(text):
                start, end = m.span(rule.group)
                while end > start and text[end - 1] in ".,;:!?-'’":
                    end -= 1
                if end <= start or (rule.check and not rule.check(m, text)):
                    continue
                out.append(_result(self.entity, start, end, rule.score, self))
        return out


# --- teachers and other titled people ---------------------------------------------------

STRICT_TITLES = (
    r"(?:mr|mrs|ms|mx|mister|missus|prof|professor|señor|senor|señora|senora|señorita|senorita"
    r"|sra|srta|madame|mme|mlle|monsieur|herr|frau)"
)
SOFT_TITLES = (
    r"(?:miss|coach|principal|dr|doctor|abuelo|abuela|auntie|aunt|uncle|tia|tía|tio|tío"
    r"|grandma|grandpa|nana|pastor|officer|nurse|dean|sister|brother|rabbi|imam|father)"
)
PARTICLE = r"(?:(?:van|von|de|del|della|da|di|du|la|le|al|el|bin|ibn|st\.?)\s+)"
NAME_TOKEN = r"[^\W\d_][\w'’-]*"


def teacher_recognizer(lex: Lexicon) -> RuleRecognizer:
    """``Mrs. Okafor``, ``mr k``, ``Coach Davis``: the title stays, the name is redacted."""

    def strict_ok(m: re.Match[str], text: str) -> bool:
        name = m.group("v").split()[-1]
        if lex.is_stop(name) and not (len(name) == 1 and name.isalpha()):
            return False
        title = m.group(0)[: m.start("v") - m.start()]
        common = lex.is_word(name) and not lex.is_name(name)
        return not (name.islower() and common and "." not in title)  # "thank you Mr tutor"

    def soft_ok(m: re.Match[str], text: str) -> bool:
        name = m.group("v")
        first = name.split()[0]
        if not (first[0].isupper() and not lex.is_word(first) or lex.is_name(first)):
            return False
        return first[0].isupper() and not _after_street_number(text, m.start())

    second = r"(?:\s+(?-i:[A-Z])[\w'’-]+)?"
    return RuleRecognizer(
        "PERSON",
        [
            Rule(
                re.compile(
                    rf"(?<![\w]){STRICT_TITLES}\.?\s+(?P<v>{PARTICLE}{{0,2}}{NAME_TOKEN}{second})",
                    I,
                ),
                0.9,
                check=strict_ok,
            ),
            Rule(
                re.compile(
                    rf"(?<![\w]){SOFT_TITLES}\.?\s+(?P<v>{PARTICLE}{{0,2}}{NAME_TOKEN}{second})", I
                ),
                0.75,
                check=soft_ok,
            ),
        ],
        name="TitledNameRecognizer",
    )


def _after_street_number(text: str, pos: int) -> bool:
    """``908 Lake Shore Dr Chicago``: "Dr" there ends an address, it is not a title."""
    return re.search(r"\d+\s+(?:[\w'.-]+\s+){1,4}$", text[max(0, pos - 60) : pos]) is not None


# --- schools and classrooms --------------------------------------------------------------

SCHOOL_KW = re.compile(
    r"\b(?:elementary|middle|high|junior\s+high|intermediate|primary|charter|montessori"
    r"|academy|preparatory|prep|magnet|school)\b(?:\s+(?:school|academy))?",
    I,
)
_SCHOOL_GENERIC = frozenset(
    """
my our the a an this that his her their your its at in to go goes went going attend
attends attended from and or of for public private local new old big small little best
good other same whole first last next really very favorite favourite art summer sunday
music dance swim swimming driving night boarding home after grade med law film cooking
bible karate coding language middle high elementary is was be been called named name
""".split()  # noqa: SIM905 - a word list reads better as prose
)


class SchoolRecognizer(LocalRecognizer):
    """``Lincoln Elementary``, ``jefferson middle school``, ``PS 118``."""

    NUMBERED = re.compile(r"\b(?:(?i:p\.?s\.?)|I\.?S\.?|M\.?S\.?|J\.?H\.?S\.?)\s?\d{1,3}\b")

    def __init__(self, lex: Lexicon):
        self.lex = lex
        super().__init__(
            supported_entities=["SCHOOL"], supported_language="en", name="SchoolRecognizer"
        )

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None):
        out = [_result("SCHOOL", *m.span(), 0.8, self) for m in self.NUMBERED.finditer(text)]
        for m in SCHOOL_KW.finditer(text):
            start = self._name_start(text, m.start(), bare=m.group(0).lower() == "school")
            if start is not None:
                out.append(_result("SCHOOL", start, m.end(), 0.8, self))
        return out

    def _name_start(self, text: str, kw_start: int, *, bare: bool) -> int | None:
        """Walk back over up to four name words ("Cesar Chavez", "St. Mary's")."""
        words = list(re.finditer(r"[\w.'’-]+", text[max(0, kw_start - 80) : kw_start]))
        offset = max(0, kw_start - 80)
        start = None
        for w in reversed(words[-4:]):
            word = w.group(0)
            key = word.lower().strip(".")
            if key in _SCHOOL_GENERIC or self.lex.is_stop(key) or not word[0].isalpha():
                break
            if bare and not word[0].isupper():
                break
            start = offset + w.start()
        return start


def classroom_recognizer() -> RuleRecognizer:
    return RuleRecognizer(
        "CLASSROOM",
        [
            Rule(
                re.compile(
                    r"\b(?P<v>(?:room|rm|classroom|homeroom|portable)\s*#?\s*[a-z]?\d{1,3}[a-z]?)\b",
                    I,
                ),
                0.75,
            ),
            Rule(re.compile(r"\b(?P<v>(?:class|homeroom)\s+\d[a-z])\b", I), 0.7),
        ],
        name="ClassroomRecognizer",
    )


def place_recognizer() -> RuleRecognizer:
    """ "im from Accra", "we moved to Durban": places spaCy's small model misses."""
    return RuleRecognizer(
        "LOCATION",
        [
            Rule(
                re.compile(
                    r"\b(?:i'?m\s+from|i\s+am\s+from|comes?\s+from|live\s+in|lives\s+in|living\s+in"
                    r"|moved\s+to|move\s+to|born\s+in|grew\s+up\s+in)\s+"
                    r"(?P<v>(?-i:[A-Z])[\w'’-]+(?:\s+(?-i:[A-Z])[\w'’-]+){0,2})",
                    I,
                ),
                0.6,
            )
        ],
        name="PlaceCueRecognizer",
    )


def school_life_recognizers(lex: Lexicon | None = None) -> list[LocalRecognizer]:
    """Every custom recognizer except the name recognizer (see ``names.py``)."""
    from readloom.guardrails.identifiers import (
        address_recognizer,
        age_recognizer,
        dob_recognizer,
        phone_recognizer,
        student_id_recognizer,
        username_recognizer,
        zip_recognizer,
    )

    lex = lex or load_lexicon()
    return [
        teacher_recognizer(lex),
        SchoolRecognizer(lex),
        classroom_recognizer(),
        student_id_recognizer(),
        username_recognizer(lex),
        dob_recognizer(),
        age_recognizer(lex),
        address_recognizer(),
        zip_recognizer(),
        phone_recognizer(),
        place_recognizer(),
    ]
