"""Personal data outside US-English formats, and text the recognizers cannot judge.

Phone numbers in any national format (digit groups adding up to a phone number's length),
street addresses the way French, German, Spanish, Italian, Portuguese and Dutch speakers
write them, European and UK/Canadian postal codes, US Social Security numbers in their
printed shape (Presidio's recognizer discards "sample" numbers such as 078-05-1120, but a
child who types one is still sharing an SSN), logins and passwords, e-mail addresses spelled
out ("maria dot gonzalez at gmail dot com"), handles that carry a name ("maria.gonzalez12"),
and names spelled letter by letter or written backwards.

Words in a script the English pipeline cannot read (Cyrillic, Han, Arabic, Devanagari...)
are redacted whole: the recognizers cannot tell a name or an address from anything else
there, and a guardrail that cannot judge fails closed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from presidio_analyzer import LocalRecognizer
from presidio_analyzer.nlp_engine import NlpArtifacts

from readloom.guardrails.lexicon import Lexicon, load_lexicon
from readloom.guardrails.recognizers import Rule, RuleRecognizer, _result

I = re.IGNORECASE  # noqa: E741 - the usual regex flag alias
UNJUDGED = "UNSUPPORTED_SCRIPT"

# --- phone numbers in any national format ----------------------------------------------------

# "+52 55 1234 5678", "06 12 34 56 78", "0151 2345 6789", "(11) 91234-5678", "07700 900123"
PHONE_SHAPE = re.compile(
    r"(?<![\w+/.,-])(?P<v>(?:\+|00)?\d{1,6}(?:[\s.\-/]{1,2}\(?\d{1,5}\)?){1,5}|\(\d{1,5}\)[\s.-]?\d{2,5}"
    r"(?:[\s.\-]\d{2,5}){0,3})(?![\w/]|[.,]\d)"
)
DATE_SHAPE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
DATETIME_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}\b")
IP_SHAPE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def _phone_ok(m: re.Match[str], text: str) -> bool:
    value = m.group("v")
    digits = sum(c.isdigit() for c in value)
    if not 8 <= digits <= 15 or DATE_SHAPE.match(value):
        return False
    if IP_SHAPE.match(value) or DATETIME_PREFIX.match(value):
        return False
    groups = re.findall(r"\d+", value)
    return len(groups) >= 2 and max(len(g) for g in groups) <= 6 or value.startswith(("+", "00"))


def intl_phone_recognizer() -> RuleRecognizer:
    return RuleRecognizer(
        "PHONE_NUMBER", [Rule(PHONE_SHAPE, 0.65, check=_phone_ok)], name="IntlPhoneRecognizer"
    )


# --- street addresses and postal codes --------------------------------------------------------

NAME_WORD = r"[^\W\d_][\w'’.-]*"
FR_STREET = (
    r"(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|allee|impasse|route|quai|cours|square"
    r"|passage|voie|faubourg|rond-point)"
)
ES_IT_PT_STREET = (
    r"(?:calle|c/|avenida|avda\.?|plaza|paseo|camino|carrera|carretera|ronda|travesía|via|viale"
    r"|piazza|corso|vicolo|largo|rua|travessa|praça|praca|estrada|alameda)"
)
DE_NL_SUFFIX = (
    r"(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|pfad|markt"
    r"|straat|laan|gracht|plein|kade|singel|dijk|steeg)"
)


def intl_address_recognizer() -> RuleRecognizer:
    return RuleRecognizer(
        "STREET_ADDRESS",
        [
            # 12 rue de la Paix; 5 bis, avenue Victor Hugo; 3 place du Marché
            Rule(
                re.compile(
                    rf"(?P<v>\b\d{{1,4}}(?:\s?(?:bis|ter|[a-c]))?,?\s+{FR_STREET}\s+"
                    rf"(?:(?:de\s+la|de\s+l['’]|du|des|de|d['’]|la|le|les)\s*)?{NAME_WORD}"
                    rf"(?:[ -](?-i:[A-Z])[\w'’-]*){{0,3}})",
                    I,
                ),
                0.75,
            ),
            # rue de la Paix 12 / rue Victor Hugo (cue-less, a French street word + a name)
            Rule(
                re.compile(
                    rf"(?P<v>\b{FR_STREET}\s+(?:(?:de\s+la|de\s+l['’]|du|des|de|d['’])\s*)"
                    rf"{NAME_WORD}(?:\s+\d{{1,4}})?)",
                    I,
                ),
                0.6,
            ),
            # Calle Mayor 5; Via Roma 10; Rua Augusta, 200; Avenida de la Constitución 3
            Rule(
                re.compile(
                    rf"(?P<v>\b{ES_IT_PT_STREET}\s+(?:(?:de|del|de\s+la|dos|das|da|do|di|della"
                    rf"|dei)\s+)?{NAME_WORD}(?:\s+{NAME_WORD}){{0,3}}?,?\s*(?:n[º°o.]\s*)?\d{{1,4}}"
                    rf"[a-z]?)\b",
                    I,
                ),
                0.75,
            ),
            # Hauptstraße 5; Berliner Str. 12a; Kerkstraat 7; Am Markt 3
            Rule(
                re.compile(
                    rf"(?P<v>\b(?:{NAME_WORD}[ -])?[^\W\d_]*{DE_NL_SUFFIX}\s*\d{{1,4}}\s?[a-z]?)\b",
                    I,
                ),
                0.75,
            ),
            Rule(
                re.compile(
                    r"(?P<v>\b(?:Am|An\s+der|Im|Auf\s+dem)\s+[A-ZÄÖÜ][\wäöüß-]+\s+\d{1,4}[a-z]?)\b"
                ),
                0.6,
            ),
        ],
        name="IntlStreetAddressRecognizer",
    )


def intl_postcode_recognizer() -> RuleRecognizer:
    return RuleRecognizer(
        "ZIP_CODE",
        [
            # 75002 Paris; D-10115 Berlin; 28013 Madrid (five digits before a capitalised town)
            Rule(
                re.compile(
                    r"(?<![\w-])(?P<v>(?:[A-Z]-)?\d{5})\s+(?-i:[A-ZÄÖÜÉ])[\wäöüéèß-]{2,}"
                    r"(?!\s+(?:[\w'’.-]+\s+){0,3}\d)"  # "28245 Puruntie 82": a house number
                ),
                0.7,
            ),
            # 1011 AB Amsterdam (NL), SW1A 1AA (UK), K1A 0B1 (Canada)
            Rule(re.compile(r"\b(?P<v>\d{4}\s?(?-i:[A-Z]{2}))\s+(?-i:[A-Z])[a-z]{2,}"), 0.7),
            Rule(re.compile(r"\b(?P<v>(?-i:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}))\b"), 0.75),
            Rule(re.compile(r"\b(?P<v>(?-i:[A-Z]\d[A-Z])\s?\d(?-i:[A-Z])\d)\b"), 0.75),
            Rule(
                re.compile(
                    r"\b(?:code\s+postal|postleitzahl|plz|código\s+postal|cp|cap|postcode)\b\s*:?\s*"
                    r"(?P<v>[A-Z0-9][A-Z0-9 -]{2,8}[A-Z0-9])\b",
                    I,
                ),
                0.8,
            ),
        ],
        name="IntlPostcodeRecognizer",
    )


# --- SSNs, logins, spelled-out e-mail addresses, handles that carry a name ----------------------


def ssn_recognizer() -> RuleRecognizer:
    """Every number printed like an SSN, valid or a well-known sample: all are shared data."""
    return RuleRecognizer(
        "US_SSN",
        [
            Rule(re.compile(r"(?<![\w-])(?P<v>\d{3}([- .])\d{2}\2\d{4})(?![\w-])"), 0.8),
            Rule(
                re.compile(
                    r"\b(?:ssn|s\.s\.n\.?|social\s+security(?:\s+(?:number|no\.?|#))?|social)"
                    r"\s*(?:number|no\.?|#)?\s*(?:is|was|=|:)?\s*(?P<v>\d[\d\s.-]{7,12}\d)(?!\d)",
                    I,
                ),
                0.9,
            ),
        ],
        name="AnySsnRecognizer",
    )


LOGIN_CUE = (
    r"(?:log\s*-?\s*in|user\s*-?\s*name|user\s*id|userid|screen\s*name|password|passwd|pass\s*word"
    r"|pw|pwd|pass\s*code|passcode|pin\s*code|sign\s*-?\s*in|account\s*name|mot\s+de\s+passe"
    r"|contraseña|contrasena|usuario|identifiant|benutzername|passwort|kennwort)"
)


def login_recognizer() -> RuleRecognizer:
    return RuleRecognizer(
        "USERNAME",
        [
            Rule(
                re.compile(
                    rf"\b{LOGIN_CUE}\s*(?:is|was|=|:|-|es|est|ist)?\s*(?:is\s+)?[:=]?\s*"
                    r"(?P<v>[^\s,;\"'“”]{3,64})",
                    I,
                ),
                0.85,
                check=_login_ok,
            ),
        ],
        name="LoginRecognizer",
    )


def _login_ok(m: re.Match[str], text: str) -> bool:
    """A secret after "password" is data whatever it is; after "log in", "here" is not."""
    value = m.group("v")
    if re.fullmatch(r"(?:is|was|my|the|a|an|and|or|for|to|it|i|forgot|reset|page|screen|box)",
                    value, I):  # fmt: skip
        return False
    secret = re.search(r"pass|pw|pwd|pin|contrase|mot\s+de|kennwort", m.group(0), I)
    return bool(secret) or not load_lexicon().is_word(value.strip(".!?"))


TLD = (
    r"(?:com|net|org|edu|gov|io|co|us|uk|fr|de|es|mx|ca|it|br|in|info|me|k12|ru|cn|jp|kr|nl|be|ch)"
)
AT = r"(?:@|\s*\(at\)\s*|\s*\[at\]\s*|\s+at\s+|\s*\{at\}\s*)"
DOT = r"(?:\.|\s*\(dot\)\s*|\s*\[dot\]\s*|\s+dot\s+|\s*\{dot\}\s*)"


def spelled_email_recognizer() -> RuleRecognizer:
    local = rf"[\w+-]+(?:{DOT}[\w+-]+){{0,3}}"
    domain = rf"[\w-]+(?:{DOT}[\w-]+){{0,3}}?{DOT}{TLD}"
    return RuleRecognizer(
        "EMAIL_ADDRESS",
        [Rule(re.compile(rf"\b(?P<v>{local}{AT}{domain})\b", I), 0.85)],
        name="SpelledEmailRecognizer",
    )


def name_handle_recognizer(lex: Lexicon) -> RuleRecognizer:
    """``maria.gonzalez12``, ``m_gonzalez``, ``gonzalez.maria``: a handle built from a name."""

    def ok(m: re.Match[str], text: str) -> bool:
        parts = [p for p in re.split(r"[._\-]+|(?<=[^\W\d_])(?=\d)", m.group("v")) if p]
        letters = [p for p in parts if p.isalpha()]
        if len(parts) < 2 or not letters:
            return False
        digits = any(p.isdigit() for p in parts)
        named = any(lex.is_name(p) and not lex.is_ambiguous(p) for p in letters)
        unknown = any(len(p) >= 3 and not lex.is_word(p) for p in letters)
        return named or (digits and unknown)

    return RuleRecognizer(
        "USERNAME",
        [
            Rule(
                re.compile(
                    r"(?<![\w@.])(?P<v>[^\W\d_]{1,20}(?:[._][^\W_]{1,20})+\d{0,6}|[^\W\d_]{3,20}\d{2,6})"
                    r"(?![\w@]|\.\w)"
                ),
                0.7,
                check=ok,
            )
        ],
        name="NameHandleRecognizer",
    )


SPELLED = re.compile(r"(?<!\w)(?:[^\W\d_](?P<sep>[\s.\-_*·]{1,2})){2,}[^\W\d_](?!\w)")
WORD = re.compile(r"[^\W\d_]{4,}")


class SpelledNameRecognizer(LocalRecognizer):
    """Names spelled out ("P r i y a", "j-a-m-a-l") or written backwards ("ayirp")."""

    def __init__(self, lex: Lexicon | None = None):
        self.lex = lex or load_lexicon()
        super().__init__(
            supported_entities=["PERSON"], supported_language="en", name="SpelledNameRecognizer"
        )

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None):
        out = []
        for m in SPELLED.finditer(text):
            joined = re.sub(r"[\s.\-_*·]", "", m.group(0))
            if self.lex.is_name(joined) or (len(joined) >= 4 and not self.lex.is_word(joined)):
                out.append(_result("PERSON", m.start(), m.end(), 0.8, self))
        for m in WORD.finditer(text):
            word = m.group(0)
            back = word[::-1]
            if (
                self.lex.is_name(back)
                and not self.lex.is_ambiguous(back)
                and not self.lex.is_word(word)
                and not self.lex.is_name(word)
            ):
                out.append(_result("PERSON", m.start(), m.end(), 0.7, self))
        return out


# --- scripts the pipeline cannot read ------------------------------------------------------------


@lru_cache(maxsize=4096)
def _latin(char: str) -> bool:
    if char.isascii() or unicodedata.normalize("NFKC", char).isascii():
        return True  # fullwidth Latin ("ｉｇｎｏｒｅ") is Latin
    name = unicodedata.name(char, "")
    return name.startswith(("LATIN", "MODIFIER LETTER")) or unicodedata.combining(char) > 0


def script_of(char: str) -> str:
    """The first word of the character's Unicode name: LATIN, CYRILLIC, CJK, ARABIC..."""
    name = unicodedata.name(char, "")
    return name.split(" ")[0] if name else "UNKNOWN"


NUMBER_AFTER = re.compile(r"(?:[ \t]*\d+[\w-]*)?")
UNJUDGED_WORD = re.compile(r"[^\s\d.,;:!?()\[\]{}\"'“”‘’«»<>/\\|@#$%^&*+=~`-]+")


class UnsupportedScriptRecognizer(LocalRecognizer):
    """Every word holding a letter outside the Latin script: fail closed."""

    def __init__(self) -> None:
        super().__init__(
            supported_entities=[UNJUDGED], supported_language="en", name="UnsupportedScript"
        )

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None):
        if text.isascii():
            return []
        spans: list[tuple[int, int]] = []
        for m in UNJUDGED_WORD.finditer(text):
            word = m.group(0)
            if any(c.isalpha() and not _latin(c) for c in word):
                if spans and not text[spans[-1][1] : m.start()].strip(" \t\\d-"):
                    spans[-1] = (spans[-1][0], m.end())  # "Иван Петров": one span
                else:
                    spans.append(m.span())
        # a house or flat number right after the words goes with them ("улице Ленина 5")
        spans = [(s, e + len(NUMBER_AFTER.match(text, e).group(0))) for s, e in spans]
        return [_result(UNJUDGED, s, e, 0.9, self) for s, e in spans]


def international_recognizers(lex: Lexicon) -> list[LocalRecognizer]:
    return [
        intl_phone_recognizer(),
        intl_address_recognizer(),
        intl_postcode_recognizer(),
        ssn_recognizer(),
        login_recognizer(),
        spelled_email_recognizer(),
        name_handle_recognizer(lex),
        SpelledNameRecognizer(lex),
        UnsupportedScriptRecognizer(),
    ]
