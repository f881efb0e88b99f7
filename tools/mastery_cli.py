"""What ``readloom mastery fit|evaluate`` run: plain functions returning JSON-ready dicts."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from readloom.tools.mastery_data import load_responses
from readloom.tools.mastery_em import fit_bkt, predict_responses
from readloom.tools.mastery_model import BKTModel

log = logging.getLogger(__name__)


def fit_command(
    data: Path, out: Path, *, forgets: bool = False, restarts: int = 5, seed: int = 0
) -> dict[str, int | float]:
    """Fit BKT on a response CSV and save the model JSON; ``fit_seconds`` is the EM alone."""
    responses = load_responses(data)
    result = fit_bkt(responses, forgets=forgets, restarts=restarts, seed=seed)
    result.model.save(out)
    return {
        "rows": len(responses),
        "students": len(np.unique(responses.user)),
        "skills": len(result.model.skills),
        "fit_seconds": round(result.fit_seconds, 4),
    }


def auc_score(y: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC as the Mann-Whitney statistic (ties count half); None if one class only."""
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(p)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | int | None]:
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    auc = auc_score(y, p)
    return {
        "auc": None if auc is None else round(auc, 5),
        "rmse": round(float(np.sqrt(np.mean((p - y) ** 2))), 5),
        "accuracy": round(float(np.mean((p >= 0.5) == (y > 0.5))), 5),
        "n": len(y),
    }


def evaluate_command(model: Path, data: Path) -> dict[str, float | int | None]:
    """Next-response prediction on a response CSV: each P(correct) comes from the state
    before that response, which is then used to update the state."""
    started = time.perf_counter()
    fitted = BKTModel.load(model)
    responses = load_responses(data)
    unseen = sorted(set(responses.skills) - set(fitted.skills))
    if unseen:
        log.info("evaluate_unseen_skills count=%d (default parameters used)", len(unseen))
    predicted = predict_responses(fitted, responses)
    result = metrics(responses.correct, predicted)
    log.info("mastery_evaluate n=%d seconds=%.3f", len(responses), time.perf_counter() - started)
    return result
