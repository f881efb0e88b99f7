"""Finds people's names the way children write them: "my friend jamal", "KEISHA", "me and priya".

spaCy's small model finds capitalised full names; this recognizer adds a gazetteer of given
names from many cultures (case- and accent-insensitive) and context cues ("my name is X",
"my brother X", "X and I", "X is my cousin") for names the gazetteer does not know.
It reuses the spaCy parse Presidio already made (part-of-speech tags), so it costs no
second pass over the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presidio_analyzer import LocalRecognizer
from presidio_analyzer.nlp_engine import NlpArtifacts

from readloom.guardrails.lexicon import Lexicon, load_lexicon
from readloom.guardrails.recognizers import KIN, KIN_ADJ, _result

WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")

STRONG_CUE = re.compile(
    r"(?:\bmy\s+name(?:'s|\s+is|s\s+is|s)|\bname(?:'s|\s+is)|\bnamed|\bcalled|\bcall\s+me"
    r"|\bi\s+go\s+by)\s*[:,-]?\s*$",
    re.I,
)
KIN_CUE = re.compile(
    rf"\b(?:my|our|his|her|their|your)\s+{KIN_ADJ}{KIN}(?:'?s\s+name\s+is|\s+named|\s+called)?"
    r"\s*[:,-]?\s*$",
    re.I,
)
WEAK_CUE = re.compile(
    r"(?:\bi'?m|\bi\s+am|\bthis\s+is|\bit'?s|\bwith|\bhi|\bhey|\bby|\bask|\btell"
    r")\s*,?\s*$",
    re.I,
)
KIN_AFTER = re.compile(
    rf"^\s+(?:(?:and|&)\s+[^\W\d_]+\s+)?(?:is|are|was|were|'s)\s+(?:my|our)\s+{KIN_ADJ}{KIN}\b",
    re.I,
)
AND_I_AFTER = re.compile(r"^\s+(?:and|&)\s+(?:i|me)\b", re.I)
ME_AND_BEFORE = re.compile(r"\bme\s+(?:and|&)\s*$", re.I)
KIN_IS_CUE = re.compile(
    rf"\bmy\s+{KIN_ADJ}{KIN}\s+(?:is|was)\s*$",
    re.I,
)
LIST_BEFORE = re.compile(r"(?:,|\band|&)\s*$", re.I)
KIN_WORD = re.compile(KIN, re.I)
CUE_WINDOW = 160  # characters: the longest cue ("my older twin cousin's name is") fits many times
LOCATIVE_BEFORE = re.compile(r"\b(?:in|near|live\s+at|lives\s+at)\s*$", re.I)
ARTICLE_BEFORE = re.compile(r"\b(?:the|a|an)\s+$", re.I)
NUMBER_BEFORE = re.compile(r"\d[\w.]*[,.]?\s+$")  # "Suite 907 Soloi Cyprus": an address
# A Title-case run with one of these words names a place, a group or a thing, not a person.
INSTITUTION = frozenset(
    "school elementary middle academy library museum park club team company inc street avenue"
    " road lake river mountain hospital church college university center centre store mall"
    " restaurant zoo hotel airport station city county state island bridge corp corporation"
    " incorporated llc ltd software technologies technology solutions systems research global"
    " group union news weekly times daily magazine lines creek cove coves rapids islands point"
    " crossroad streets heights hills valley springs falls harbor harbour bay beach port fort"
    " tales stories".split()
)
# ...and so does one that starts with a direction ("Southern Canada", "Upper Austria").
DIRECTION = frozenset(
    "north south east west northern southern eastern western upper lower central".split()
)
# spaCy entities that make a Title-case run "not a person": a place is redacted as LOCATION
# anyway; dates, days, nationalities and events are not personal data.
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
NOT_PERSON_LABELS = frozenset({"DATE", "TIME", "NORP", "EVENT", "LANGUAGE"})
NOT_NAME_POS = frozenset({"VERB", "AUX", "ADP", "DET", "PRON", "CCONJ", "SCONJ", "PART", "NUM"})


@dataclass
class _Word:
    start: int
    end: int
    text: str
    pos: str


class NameRecognizer(LocalRecognizer):
    """PERSON from a given-name gazetteer plus context cues, in any letter case."""

    def __init__(self, lex: Lexicon | None = None):
        self.lex = lex or load_lexicon()
        super().__init__(
            supported_entities=["PERSON"], supported_language="en", name="NameRecognizer"
        )

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None):
        words = self._words(text, nlp_artifacts)
        shouting = _is_shouting(text)
        accepted = [i for i in range(len(words)) if self._is_name(text, words, i, shouting)]
        accepted = self._coordinated(text, words, accepted, shouting)
        spans = [self._extend(text, words, i, shouting) for i in sorted(set(accepted))]
        if not shouting:
            spans += self._full_names(text, words, nlp_artifacts)
        spans = [s for s in spans if not LOCATIVE_BEFORE.search(_before(text, s[0]))]
        merged: list[tuple[int, int, float]] = []
        for start, end, score in sorted(spans):
            if merged and start <= merged[-1][1]:
                prev = merged[-1]
                merged[-1] = (prev[0], max(prev[1], end), max(prev[2], score))
            else:
                merged.append((start, end, score))
        return [_result("PERSON", s, e, score, self) for s, e, score in merged]

    # --- decisions -----------------------------------------------------------------------

    def _is_name(self, text: str, words: list[_Word], i: int, shouting: bool) -> bool:
        w = words[i]
        lex = self.lex
        cased = w.text[0].isupper() and not shouting
        before = _before(text, w.start)
        after = text[w.end : w.end + CUE_WINDOW]
        strong = STRONG_CUE.search(before) is not None
        kin_after = KIN_AFTER.match(after) is not None  # "X is my cousin": X is a person
        kin = KIN_CUE.search(before) is not None or kin_after
        if KIN_WORD.fullmatch(w.text) or LOCATIVE_BEFORE.search(before):
            return False  # "my twin cousins"; "in Brooklyn" is a place
        if KIN_IS_CUE.search(before):  # "my bestfriend is X": X may be an adjective
            kin = kin or w.pos == "PROPN" or (lex.is_name(w.text) and not lex.is_ambiguous(w.text))
        if lex.is_name(w.text):
            if not lex.is_ambiguous(w.text):
                return not (w.pos in NOT_NAME_POS and not cased and not (strong or kin))
            if (strong or kin_after) and not lex.is_stop(w.text):
                return True
            if (kin or cased) and w.pos == "PROPN":
                return True
            return kin and cased
        if not _name_shaped(w.text, lex):
            return False
        if lex.is_census_name(w.text) and cased and w.pos == "PROPN":
            return True  # "Wilhelmina said hi": a Census given name, written as a name
        if strong:
            return True
        if kin:
            return w.pos not in NOT_NAME_POS or cased
        if ME_AND_BEFORE.search(before) or AND_I_AFTER.match(after):  # "me and X", "X and i"
            return w.pos in {"PROPN", "NOUN", "X"} or cased
        weak = WEAK_CUE.search(before) is not None
        return weak and (w.pos == "PROPN" and (cased or len(w.text) > 3))

    def _coordinated(
        self, text: str, words: list[_Word], accepted: list[int], shouting: bool
    ) -> list[int]:
        """ "my friends Santiago, Camila and Diego": a name in a list of names is a name."""
        found = set(accepted)
        changed = True
        while changed:
            changed = False
            for i in range(1, len(words)):
                if i in found:
                    continue
                w = words[i]
                gap = text[words[i - 1].end : w.start]
                linked = (i - 1) in found and LIST_BEFORE.search(gap)
                if not linked and i - 2 >= 0 and (i - 2) in found:
                    between = text[words[i - 2].end : w.start]
                    linked = re.fullmatch(r"\s*,?\s*(?:and|&)\s*", between, re.I)
                    linked = linked and words[i - 1].text.lower() == "and"
                if not linked:
                    continue
                gaz = self.lex.is_name(w.text) and (
                    not self.lex.is_ambiguous(w.text)
                    or (w.text[0].isupper() and not shouting)
                    or w.pos == "PROPN"
                )
                shaped = _name_shaped(w.text, self.lex) and not KIN_WORD.fullmatch(w.text)
                if gaz or (shaped and (w.pos == "PROPN" or (w.text[0].isupper() and not shouting))):
                    found.add(i)
                    changed = True
        return sorted(found)

    def _extend(
        self, text: str, words: list[_Word], i: int, shouting: bool
    ) -> tuple[int, int, float]:
        """Take a surname along: "Sofia Ramirez", "maria lopez", "Zhang Wei"."""
        lex = self.lex
        first = words[i]
        start, end = first.start, first.end
        cased = first.text[0].isupper() and not shouting
        j = i + 1
        while j < len(words) and j <= i + 2:
            nxt = words[j]
            if text[end : nxt.start] not in (" ", "-"):
                break
            n_cased = nxt.text[0].isupper() and not shouting
            known = lex.is_name(nxt.text) and not lex.is_ambiguous(nxt.text)
            surname = not lex.is_word(nxt.text) and (
                (cased and n_cased) or (not cased and nxt.pos in {"PROPN", "NOUN", "X"})
            )
            if not (known or surname) or len(nxt.text) < 2:
                break
            end = nxt.end
            j += 1
        if i > 0 and cased:
            prev = words[i - 1]
            if (
                text[prev.end : start] == " "
                and prev.text[0].isupper()
                and not lex.is_word(prev.text)
                and not _sentence_start(text, prev.start)
            ):
                start = prev.start
        # above spaCy's 0.85, so Presidio keeps this result when both find the same span
        known_first = lex.is_name(first.text) or (cased and lex.is_census_name(first.text))
        return start, end, 0.86 if known_first else 0.7

    def _full_names(
        self, text: str, words: list[_Word], nlp_artifacts: NlpArtifacts | None
    ) -> list[tuple[int, int, float]]:
        """ "Wilhelmina Brackenbury walked her dog": two or three Title-case proper nouns in a
        row are a full name, even when neither is in the gazetteer and spaCy's small model
        tags nothing. Not when every word is an everyday word ("Good Morning"), when spaCy
        tags any of the run as a place ("New York", redacted as LOCATION anyway) or an
        organisation and it does not start with a known given name, when a word in it is a
        date or nationality, when it names an institution or starts with a direction
        ("Southern Canada"), when a number precedes it (an address line), when it ends in an everyday word after an unknown first word
        ("Spanish Class"), or when an article precedes it ("The
        Lighthouse Keeper" is a thing; a passage's title is also allow-listed)."""
        ents = list(nlp_artifacts.entities) if nlp_artifacts is not None else []
        skip_tokens = {
            i
            for i, w in enumerate(words)
            for e in ents
            if e.label_ in NOT_PERSON_LABELS and e.start_char <= w.start < e.end_char
        }
        runs: list[list[int]] = []
        for i, w in enumerate(words):
            if not (_title_case(w.text) and w.pos == "PROPN") or i in skip_tokens:
                continue
            if runs and runs[-1][-1] == i - 1 and text[words[i - 1].end : w.start] == " ":
                runs[-1].append(i)
            else:
                runs.append([i])
        out = []
        for run in runs:
            if not 2 <= len(run) <= 3:
                continue
            start, end = words[run[0]].start, words[run[-1]].end
            parts = [words[i].text for i in run]
            if all(self.lex.is_word(p) or self.lex.is_stop(p) for p in parts):
                continue
            if any(p.casefold() in INSTITUTION for p in parts):
                continue
            before = text[max(0, start - 40) : start]
            if parts[0].casefold() in DIRECTION or ARTICLE_BEFORE.search(before):
                continue
            if NUMBER_BEFORE.search(before):
                continue
            known_first = self.lex.is_name(parts[0]) or self.lex.is_census_name(parts[0])
            if self.lex.is_word(parts[-1]) and not known_first:
                continue  # "Spanish Class"; but "Amara Brown" (a known given name) stays
            # spaCy's place or organisation, unless it starts with a given name ("Wilhelmina
            # Brackenbury" with "Brackenbury" read as an ORG is still a person)
            tagged = any(
                e.label_ in PLACE_LABELS | {"ORG"} and e.start_char < end and start < e.end_char
                for e in ents
            )
            if tagged and not known_first:
                continue
            out.append((start, end, 0.75))
        return out

    @staticmethod
    def _words(text: str, nlp_artifacts: NlpArtifacts | None) -> list[_Word]:
        pos_at: dict[int, str] = {}
        if nlp_artifacts is not None and nlp_artifacts.tokens is not None:
            pos_at = {t.idx: t.pos_ for t in nlp_artifacts.tokens}
        words = []
        for m in WORD.finditer(text):
            end = m.end() - 2 if re.search(r"['’]s$", m.group(0), re.I) else m.end()
            words.append(_Word(m.start(), end, text[m.start() : end], pos_at.get(m.start(), "")))
        return words


def _name_shaped(word: str, lex: Lexicon) -> bool:
    """Could be a name nobody listed: not an everyday word, not a function word."""
    return len(word) >= 2 and not lex.is_word(word) and not lex.is_stop(word)


def _title_case(word: str) -> bool:
    """ "Brackenbury", "O'Connor-Smith", "McAdams": a capital first, lowercase after."""
    return word[:1].isupper() and any(c.islower() for c in word[1:])


def _is_shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 4 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _before(text: str, pos: int) -> str:
    """The words just before ``pos``, where every cue pattern (anchored at ``$``) looks. A
    bounded window, not the whole prefix: searching the prefix for each word made a long
    passage quadratic (90 KB took 80 s). The window starts after a space, so ``\b`` at its
    edge never sees half a word."""
    start = pos - CUE_WINDOW
    if start <= 0:
        return text[:pos]
    cut = text.find(" ", start, pos)
    return text[cut + 1 if cut >= 0 else pos : pos]


def _sentence_start(text: str, pos: int) -> bool:
    head = text[max(0, pos - CUE_WINDOW) : pos].rstrip()
    if not head and pos > CUE_WINDOW:
        head = text[:pos].rstrip()
    return not head or head[-1] in ".!?\n:;"
