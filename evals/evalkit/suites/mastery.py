"""Mastery (BKT) next-response prediction on held-out students of ASSISTments
``as_supersmall.csv``: 80/20 split by user with a fixed seed (the same split as
``evals/bench_mastery.py``), fit on train, AUC/RMSE on test through ``readloom.tools``.

A per-skill base-rate predictor on the same split is reported beside it, so the figure
shows what knowledge tracing adds over "how hard is this skill".
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from evalkit import provenance
from evalkit.context import EvalContext
from evalkit.model import SuiteOutput

SPLIT_SEED = 42
TEST_SHARE = 0.2


def run(ctx: EvalContext) -> SuiteOutput:
    from readloom.tools.mastery_cli import evaluate_command, fit_command, metrics
    from readloom.tools.mastery_data import load_responses, write_responses

    out = SuiteOutput()
    path = ctx.data_path / "assistments_kt" / "as_supersmall.csv"
    data = load_responses(path)
    users = np.unique(data.user)
    rng = np.random.default_rng(SPLIT_SEED)
    test_users = rng.choice(users, size=round(TEST_SHARE * len(users)), replace=False)
    is_test = np.isin(data.user, test_users)
    train, test = data.subset(~is_test), data.subset(is_test)
    seen = np.isin(test.skill, np.unique(train.skill))
    test = test.subset(seen)
    with tempfile.TemporaryDirectory(prefix="readloom-eval-mastery-") as tmp:
        work = Path(tmp)
        write_responses(work / "train.csv", train)
        write_responses(work / "test.csv", test)
        fit = fit_command(work / "train.csv", work / "model.json")
        scores = evaluate_command(work / "model.json", work / "test.csv")
    out.add("auc", scores["auc"], n=scores["n"], note="next-response prediction, held-out students")
    out.add("rmse", scores["rmse"], n=scores["n"])
    out.add("accuracy", scores["accuracy"], n=scores["n"])
    out.add("fit_seconds", fit["fit_seconds"], n=fit["rows"])

    rates = np.full(len(train.skills), float(train.correct.mean()))
    for s in np.unique(train.skill):
        rates[s] = float(train.correct[train.skill == s].mean())
    base = metrics(test.correct, rates[test.skill])
    out.add("skill_base_rate_auc", base["auc"], n=base["n"],
            note="reference: each skill's training correctness rate as the prediction")  # fmt: skip
    out.add("skill_base_rate_rmse", base["rmse"], n=base["n"])
    out.datasets.append(provenance.dataset(
        "assistments-as_supersmall", path, records=len(data),
        subset=f"{len(test_users)} of {len(users)} students held out (seed {SPLIT_SEED}); "
               f"{int((~seen).sum())} test rows on skills unseen in training dropped",
    ))  # fmt: skip
    out.notes.append(
        f"De-duplicated on (user, order, skill): {data.duplicates_dropped} rows dropped. "
        f"Train {len(train)} rows, test {len(test)} rows."
    )
    return out
