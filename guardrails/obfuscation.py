"""One normal form for every text check, and the decodings an evasion hides behind.

A check that reads raw text is beaten by ``Іgnore`` (Cyrillic І), ``ig\u200bnore``, fullwidth
``ｉｇｎｏｒｅ``, Unicode tag characters, leetspeak, base64, letters spelled out with hyphens
or a word written backwards. ``normalize`` applies NFKC, drops invisible and tag characters
and maps confusable letters to the Latin letter they imitate (a skeleton in the sense of
Unicode TS #39, from the ``confusable_homoglyphs`` data), memoised so a message is
normalised once however many checks read it. ``decoded_views`` yields what the text says
once decoded; the injection check and the evaluator's leak check read those too.

Written here rather than taken whole from a library: the confusables table comes from
``confusable_homoglyphs``, but no maintained package combines the skeleton with the
decodings (spelled-out letters, reversal, base64, leetspeak) these checks need.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from functools import lru_cache

# zero-width, joiners, bidi controls, soft hyphen, word joiner, BOM, variation selectors,
# Mongolian vowel separator, and the Unicode tag block (invisible "ASCII smuggling")
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f"
    "\U000e0100-\U000e01ef]"
)
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                      "$": "s", "|": "l", "!": "i", "+": "t"})  # fmt: skip
# letters written one at a time: "T-o-b-i-a-s", "t o b i a s", "T.O.B.I.A.S", "t_o_b_i_a_s"
SPELLED = re.compile(r"(?<!\w)(?:[^\W\d_](?P<sep>[\s.\-_*·,]{1,3})){2,}[^\W\d_](?!\w)")
BASE64_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/_-]{8,}={0,2}(?![A-Za-z0-9+/=])")
WORD = re.compile(r"[^\W\d_]{4,}")


@lru_cache(maxsize=1)
def _skeleton_map() -> dict[int, str]:
    """Non-ASCII characters that imitate one ASCII letter or digit -> that character."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        found = [
            c for h in homoglyphs if len(c := h.get("c", "")) == 1 and c.isascii() and c.isalnum()
        ]
        # a capital imitates a capital: Cyrillic І is "I", not the lowercase "l"
        same_case = [c for c in found if c.isalpha() and c.isupper() == char.isupper()]
        if found:
            pick = (same_case or found)[0]
            table[ord(char)] = "I" if pick == "l" and char.isupper() else pick
    return table


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """NFKC, invisible and tag characters removed, confusable letters as Latin ones."""
    out = unicodedata.normalize("NFKC", text)
    out = INVISIBLE.sub("", out)
    if not out.isascii():
        out = out.translate(_skeleton_map())
    return out


def deleet(text: str) -> str:
    """``1gn0r3 4ll rul35`` -> ``ignore all rules`` (only inside words that hold letters)."""
    return re.sub(
        r"\S+", lambda m: m.group(0).translate(LEET) if re.search(r"[a-z]", m.group(0), re.I)
        else m.group(0), text,
    )  # fmt: skip


def despell(text: str) -> str:
    """``T-o-b-i-a-s`` -> ``Tobias``: letters spelled out one by one joined back."""

    def join(m: re.Match[str]) -> str:
        return re.sub(r"[\s.\-_*·,]", "", m.group(0))

    return SPELLED.sub(join, text)


def _printable(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not s or sum(c.isprintable() or c.isspace() for c in s) < 0.9 * len(s):
        return None
    return s if re.search(r"[^\W\d_]{2,}", s) else None


def base64_decodings(text: str) -> list[str]:
    """Readable text hidden as base64 (standard or URL-safe alphabet) in ``text``."""
    found: list[str] = []
    for m in BASE64_TOKEN.finditer(text):
        token = m.group(0)
        if token.isalpha() and (token.islower() or token.isupper()):
            continue  # an ordinary word, not an encoding
        padded = token + "=" * (-len(token) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                s = _printable(decode(padded, validate=True) if decode is base64.b64decode
                               else decode(padded))  # fmt: skip
            except (binascii.Error, ValueError):
                s = None
            if s:
                found.append(s)
                break
    return found


def reversed_words(text: str) -> str:
    """Every word of four or more letters written backwards (``saibot`` -> ``tobias``)."""
    return " ".join(w[::-1] for w in WORD.findall(text))


def tag_payload(text: str) -> str:
    """ASCII smuggled in Unicode tag characters (U+E0020..U+E007E), which render as nothing."""
    return "".join(chr(ord(c) - 0xE0000) for c in text if 0xE0020 <= ord(c) <= 0xE007E)


@lru_cache(maxsize=2048)
def _decoded_views(text: str) -> tuple[str, ...]:
    base = normalize(text)
    views = [base, despell(base), deleet(base), tag_payload(text)]
    views += [normalize(s) for s in base64_decodings(base)]
    return tuple(dict.fromkeys(v for v in views if v.strip()))


def decoded_views(text: str) -> list[str]:
    """``text`` normalised, then what it says spelled out, de-leeted, base64-decoded and
    hidden in tag characters (each normalised); duplicates dropped, the normal form first."""
    return list(_decoded_views(text))


def leak_views(text: str) -> list[str]:
    """What a reply could be hiding an answer in: the raw text, its normal form, letters
    spelled out, words backwards, base64."""
    base = normalize(text)
    views = [text, base, despell(base), reversed_words(base)]
    views += [normalize(s) for s in base64_decodings(base)]
    return list(dict.fromkeys(v for v in views if v.strip()))
