"""Fit the readability model on the CLEAR corpus TRAIN split and write
``data/readability_model.json``.

    python evals/fit_readability.py [--out data/readability_model.json]

Split (fixed, shared with bench_readability.py): an excerpt is in TEST when
sha256("readloom-clear-split:" + ID) mod 5 == 0 (about 20%); this script never
looks at TEST rows. Ridge regression on standardised features predicts
``BT_easiness``; its penalty is chosen by 5-fold cross-validation on TRAIN
(Spearman). A linear map from predicted easiness to a US grade is then fitted on
TRAIN against the grade implied by each excerpt's Lexile band.

The CLEAR corpus is CC BY-NC-SA 4.0: only the fitted coefficients are written.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from readloom.retrieval import readability
from readloom.settings import PACKAGE_DATA, Settings

CLEAR_FILE = Path("clear_corpus") / "CLEAR_corpus_final.derived.csv"
ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
FOLDS = 5
SEED = 20240417

# Lexile midpoints of the Common Core "stretch" text bands (MetaMetrics) -> grade.
LEXILE_TO_GRADE = ((360.0, 1.0), (620.0, 2.5), (875.0, 4.5), (1055.0, 7.0),
                   (1192.0, 9.5), (1285.0, 11.5), (1385.0, 12.0))  # fmt: skip


def is_test(excerpt_id: str) -> bool:
    digest = hashlib.sha256(f"readloom-clear-split:{excerpt_id}".encode()).hexdigest()
    return int(digest, 16) % 5 == 0


def load_clear(data_path: Path) -> list[dict[str, str]]:
    path = data_path / CLEAR_FILE
    if not path.is_file():
        sys.exit(f"CLEAR corpus not found at {path} (set READLOOM_DATA_PATH)")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def lexile_grade(band: str) -> float | None:
    numbers = [float(n) for n in re.findall(r"\d+", band)]
    if not numbers:
        return None
    lexile = sum(numbers) / len(numbers)
    xs, ys = zip(*LEXILE_TO_GRADE, strict=True)
    return float(np.interp(lexile, xs, ys))


def feature_matrix(texts: list[str], names: list[str]) -> np.ndarray:
    rows = []
    for text in texts:
        feats = readability.features(text)
        rows.append([feats[n] for n in names])
    return np.asarray(rows, dtype=float)


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> dict[str, np.ndarray | float]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    coef = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return {"mean": mean, "scale": scale, "coef": coef, "intercept": float(y.mean())}


def predict(model: dict, x: np.ndarray) -> np.ndarray:
    return ((x - model["mean"]) / model["scale"]) @ model["coef"] + model["intercept"]


def cross_validate(x: np.ndarray, y: np.ndarray, alpha: float) -> float:
    order = np.random.default_rng(SEED).permutation(len(y))
    scores = []
    for fold in np.array_split(order, FOLDS):
        train = np.ones(len(y), dtype=bool)
        train[fold] = False
        model = fit_ridge(x[train], y[train], alpha)
        scores.append(spearmanr(predict(model, x[fold]), y[fold]).statistic)
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PACKAGE_DATA / "readability_model.json")
    args = parser.parse_args()

    rows = [r for r in load_clear(Settings().data_path) if not is_test(r["ID"])]
    names = list(readability.FEATURE_NAMES)
    start = time.perf_counter()
    x = feature_matrix([r["Excerpt"] for r in rows], names)
    y = np.array([float(r["BT_easiness"]) for r in rows])
    cv = {alpha: cross_validate(x, y, alpha) for alpha in ALPHAS}
    alpha = max(cv, key=lambda a: cv[a])
    model = fit_ridge(x, y, alpha)

    grades = [lexile_grade(r["Lexile Band"]) for r in rows]
    known = np.array([g is not None for g in grades])
    target = np.array([g for g in grades if g is not None])
    slope, intercept = np.polyfit(predict(model, x[known]), target, 1)

    spec = {
        "name": "readloom-readability",
        "version": 1,
        "target": "CLEAR BT_easiness (higher = easier), then a linear map to US grade",
        "features": names,
        "mean": [round(float(v), 6) for v in model["mean"]],
        "scale": [round(float(v), 6) for v in model["scale"]],
        "coef": [round(float(v), 6) for v in model["coef"]],
        "intercept": round(float(model["intercept"]), 6),
        "ridge_alpha": alpha,
        "grade_calibration": {
            "slope": round(float(slope), 6),
            "intercept": round(float(intercept), 6),
            "target": "grade from Lexile band midpoint via CCSS stretch bands",
        },
        "training": {
            "corpus": "CLEAR corpus (CommonLit), CC BY-NC-SA 4.0; coefficients only",
            "split": "TEST when sha256('readloom-clear-split:'+ID) % 5 == 0; fitted on TRAIN",
            "n_train": len(rows),
            "cv_spearman_by_alpha": {str(a): round(s, 4) for a, s in cv.items()},
            "textstat": textstat_version(),
        },
    }
    args.out.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    register(args.out, spec, names)
    print(json.dumps({
        "out": str(args.out), "n_train": len(rows), "alpha": alpha,
        "cv_spearman": round(cv[alpha], 4), "seconds": round(time.perf_counter() - start, 1),
    }))  # fmt: skip


def register(out: Path, spec: dict, names: list[str]) -> None:
    """Record this fit in the model registry with its held-out TEST-split Spearman."""
    from scipy.stats import spearmanr

    from readloom.mlops.shipped import register_fit

    test = [r for r in load_clear(Settings().data_path) if is_test(r["ID"])]
    model = {k: np.array(spec[k]) if k != "intercept" else spec[k]
             for k in ("mean", "scale", "coef", "intercept")}  # fmt: skip
    pred = predict(model, feature_matrix([r["Excerpt"] for r in test], names))
    rho = float(spearmanr(pred, [float(r["BT_easiness"]) for r in test]).statistic)
    rec = register_fit("readability", out, training={"ridge_alpha": spec["ridge_alpha"],
                       **spec["training"]}, metrics={"test_spearman": round(rho, 4), "n_test": len(test)})  # fmt: skip
    print(json.dumps({"registered": rec.ref, "test_spearman": round(rho, 4)}))


def textstat_version() -> str:
    from importlib.metadata import version

    return version("textstat")


if __name__ == "__main__":
    main()
