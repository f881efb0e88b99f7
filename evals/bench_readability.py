"""How well does readloom's grade estimate rank texts by difficulty, against plain
Flesch–Kincaid?

    python evals/bench_readability.py

Measured on the held-out CLEAR split (the rows evals/fit_readability.py never
saw): Spearman rank correlation of each grade estimate with ``BT_easiness``
(teachers' judgement; higher = easier, so a good grade estimate correlates
negatively). ``rho`` is reported as the correlation with *difficulty*
(= -Spearman with BT_easiness), so higher is better for both. As a sanity check it
also reports the correlation with the authored grade of the shipped corpus.
"""

from __future__ import annotations

import json
import time

import numpy as np
import yaml
from fit_readability import is_test, load_clear
from scipy.stats import spearmanr

from readloom.retrieval import readability
from readloom.settings import Settings


def _rho_difficulty(grades: list[float], easiness: list[float]) -> float:
    return round(float(-spearmanr(grades, easiness).statistic), 4)


def _bootstrap_gain(ours: np.ndarray, fk: np.ndarray, y: np.ndarray, n: int = 1000) -> list[float]:
    """95% interval of (ours - FK) rank correlation, resampling excerpts."""
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        gains.append(spearmanr(fk[idx], y[idx]).statistic - spearmanr(ours[idx], y[idx]).statistic)
    return [round(float(q), 4) for q in np.percentile(gains, [2.5, 97.5])]


def _shipped_corpus(settings: Settings) -> dict[str, float | int]:
    grades, ours, fk = [], [], []
    for path in sorted(settings.corpus_path.glob("*.md")):
        _, front, body = path.read_text(encoding="utf-8").split("---", 2)
        grades.append(int(yaml.safe_load(front)["grade"]))
        ours.append(readability.estimate_grade(body))
        fk.append(readability.flesch_kincaid_grade(body))
    if len(grades) < 3:
        return {"n": len(grades)}
    return {
        "n": len(grades),
        "readloom_rho": round(float(spearmanr(ours, grades).statistic), 4),
        "flesch_kincaid_rho": round(float(spearmanr(fk, grades).statistic), 4),
    }


def main() -> None:
    settings = Settings()
    rows = [r for r in load_clear(settings.data_path) if is_test(r["ID"])]
    start = time.perf_counter()
    texts = [r["Excerpt"] for r in rows]
    ours = np.array([readability.estimate_grade(t) for t in texts])
    seconds = time.perf_counter() - start
    fk = np.array([readability.flesch_kincaid_grade(t) for t in texts])
    clear_fk = np.array([float(r["Flesch-Kincaid-Grade-Level"]) for r in rows])
    y = np.array([float(r["BT_easiness"]) for r in rows])
    summary = {
        "split": "CLEAR held-out (sha256 split, see fit_readability.py)",
        "n": len(rows),
        "rho_with_difficulty": {
            "readloom_grade": _rho_difficulty(list(ours), list(y)),
            "flesch_kincaid_textstat": _rho_difficulty(list(fk), list(y)),
            "flesch_kincaid_clear_column": _rho_difficulty(list(clear_fk), list(y)),
        },
        "gain_over_fk_95ci": _bootstrap_gain(ours, fk, y),
        "grade_range": [float(ours.min()), float(np.median(ours)), float(ours.max())],
        "ms_per_text": round(1000 * seconds / len(rows), 2),
        "shipped_corpus_vs_authored_grade": _shipped_corpus(settings),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
