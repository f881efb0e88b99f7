"""Word lists the PII recognizers share: a gazetteer of given names and common English words.

The gazetteer (``data/first_names.txt``) is written in-repo, never downloaded. Names that are
also everyday words (Will, Hope, Grace, Summer...) are "ambiguous": the recognizers accept
them only when written like a name or right after a cue such as "my friend".

A second, wider list comes from the US Census 1990 given names that the ``names`` package
(MIT) ships as files: about 4,000 more names ("Wilhelmina", "Ignatius"). Nobody curated it
for children's typing, so a name only it knows counts only when written like a name (a
Title-case proper noun), never in lowercase text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from readloom.settings import PACKAGE_DATA

NAMES_FILE = PACKAGE_DATA / "first_names.txt"

# Words that kids type in ordinary sentences and that are also someone's given name.
_AMBIGUOUS_EXTRA = """
grace amber ruby chase dawn max miles van nova luna destiny harmony melody serenity legend
precious paris hazel olive pearl jade sage reese penny sunny storm star bear fox wolf
august cash king major ray dale glen bill pat sue don jean gene rich frank grant page
hunter chance justice honor lovely brooklyn dakota trinity heaven journey blue rain ocean
sky river summer autumn winter spring april may june faith hope joy will mark drew rose
lily violet daisy ivy robin willow diamond angel tiger kit bo li ho su ye yo ma pa da la
le de el al ya mi mo tu lu ei tam thi nam tan dan jan can nur luz flor cruz gal tal an na
ha son long man made said hind wing gang floor loan mane hung art sonny buddy yu hai min
nana papa mama baba lola lolo ploy
""".split()  # noqa: SIM905 - a word list reads better as prose

# Everyday words a name recognizer must never take for a name, beyond spaCy's stop words.
_COMMON_EXTRA = """
ok okay lol lmao idk idc omg bruh yeah yea yep nope nah hi hey hello bye thanks thank thx
pls plz please sorry yes no umm um uh hmm wait what why how who when where which cuz cause
coz gonna wanna gotta kinda sorta dont didnt cant wont isnt wasnt doesnt im ive id ill
youre theyre thats whats its lets u ur r y k ya yall tutor teacher story book chapter page
paragraph answer question passage character author reading read test quiz homework class
school lunch recess grade mom dad brother sister friend cousin aunt uncle grandma grandpa
guy guys kid kids people everyone someone nobody somebody anybody tired confused bored
done ready sure fine good great bad mad sad happy scared lonely hungry sleepy stuck lost
new here there today tomorrow yesterday tonight now later also too really very just still
minecraft roblox fortnite youtube tiktok instagram snapchat discord xbox ipad iphone
student students id number username password email phone address zip room grade info
""".split()  # noqa: SIM905 - a word list reads better as prose


def fold(text: str) -> str:
    """Case- and accent-insensitive key: "José" and "jose" are the same name."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold().replace("’", "'")


@dataclass(frozen=True)
class Lexicon:
    names: frozenset[str]  # the gazetteer of given names
    words: frozenset[str]  # everyday English words (stop words included)
    stop: frozenset[str]  # function words: never a name, whatever the cue
    census: frozenset[str] = frozenset()  # given names only the Census lists know

    def is_census_name(self, word: str) -> bool:
        """A Census given name that is neither in the gazetteer nor an everyday word."""
        key = fold(word)
        return key in self.census and key not in self.names and key not in self.words

    def is_name(self, word: str) -> bool:
        return fold(word) in self.names

    def is_word(self, word: str) -> bool:
        return fold(word) in self.words

    def is_stop(self, word: str) -> bool:
        return fold(word) in self.stop

    def is_ambiguous(self, word: str) -> bool:
        """A given name that is also an everyday word ("Will", "Hope")."""
        key = fold(word)
        return key in self.names and key in self.words


def _easy_words() -> set[str]:
    from readloom.lean_imports import package_dir

    path = package_dir("textstat") / "resources" / "en" / "easy_words.txt"
    if not path.exists():  # pragma: no cover - textstat layout change
        return set()
    return {w.strip().casefold() for w in path.read_text(encoding="utf-8").split() if w.strip()}


# Census given names that are better known as places ("France was super fun to visit"):
# left to spaCy, which redacts them as LOCATION. The curated gazetteer is not affected.
_CENSUS_PLACES = frozenset(
    "argentina cleveland columbus denver florida france houston india israel maryland nevada"
    " orlando raleigh".split()
)


def census_given_names() -> set[str]:
    """Given names from the ``names`` package's Census files (``NAME  freq  cum  rank``)."""
    from importlib.resources import files

    out: set[str] = set()
    for fname in ("dist.female.first", "dist.male.first"):
        for line in files("names").joinpath(fname).read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts and parts[0].isalpha():
                out.add(fold(parts[0]))
    return out - _CENSUS_PLACES


@lru_cache(maxsize=4)
def load_lexicon(path: Path = NAMES_FILE) -> Lexicon:
    from spacy.lang.en.stop_words import STOP_WORDS

    names: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(fold(line))
    stop = {fold(w) for w in STOP_WORDS} | {"im", "ive", "id", "u", "ur", "ya", "yo"}
    words = _easy_words() | {fold(w) for w in _COMMON_EXTRA + _AMBIGUOUS_EXTRA} | stop
    return Lexicon(
        names=frozenset(names),
        words=frozenset(words),
        stop=frozenset(stop),
        census=frozenset(census_given_names()),
    )
