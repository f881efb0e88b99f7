"""fit_command / evaluate_command: the functions behind `readloom mastery fit|evaluate`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from readloom.errors import InputError
from readloom.tools.mastery_cli import auc_score, evaluate_command, fit_command
from readloom.tools.mastery_model import BKTModel, BKTParams

TRUE = {"a": BKTParams(0.3, 0.2, 0.2, 0.1), "b": BKTParams(0.5, 0.1, 0.25, 0.1)}


def test_fit_then_evaluate(tmp_path: Path, simulate, to_csv) -> None:
    train = to_csv(tmp_path / "train.csv", simulate(TRUE, 300, 12, seed=1), extra=True)
    test = to_csv(tmp_path / "test.csv", simulate(TRUE, 100, 12, seed=2))
    out = tmp_path / "model.json"
    summary = fit_command(train, out)
    assert summary["rows"] == 2 * 300 * 12 and summary["students"] == 300 and summary["skills"] == 2
    assert summary["fit_seconds"] > 0
    assert set(BKTModel.load(out).skills) == {"a", "b"}
    scores = evaluate_command(out, test)
    assert set(scores) == {"auc", "rmse", "accuracy", "n"}
    assert scores["n"] == 2 * 100 * 12
    assert 0.6 < scores["auc"] <= 1 and 0 < scores["rmse"] < 0.5 and scores["accuracy"] > 0.6


def test_fit_reports_bad_data(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,skill_name,correct,order_id\nu,a,2,1\n")
    with pytest.raises(InputError, match="'correct' must be 0 or 1"):
        fit_command(bad, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_auc_matches_pair_counting() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(60) > 0.5
    p = np.round(rng.random(60), 1)  # ties count half
    pairs = [(a, b) for a in p[y] for b in p[~y]]
    expected = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    assert auc_score(y, p) == pytest.approx(expected)
    assert auc_score(np.ones(3), np.ones(3)) is None
