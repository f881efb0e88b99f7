"""Fit the prompt-injection classifier and write ``data/injection_model.json``.

    python evals/fit_injection.py

A logistic regression over binary character n-grams (sklearn ``char_wb`` 3-5, chi2 top-k,
L2-normalised), trained on the deepset/prompt-injections TRAIN split plus benign messages
in a student's voice generated here from templates (``k12_benign_training``). Its ``test``
split is held out for release measurements, so 20% of TRAIN (stratified, seed 13) is kept
aside as our validation split and never used for fitting or for choosing the threshold
(chosen by 5-fold cross-validation on the other 80%). scikit-learn is a dev dependency: at
run time ``readloom.guardrails.injection`` scores the shipped weights in plain Python, and
this script checks that both give the same score on every text.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.feature_selection import SelectKBest, chi2
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from readloom.guardrails.injection import CharNgramModel
from readloom.settings import PACKAGE_DATA, Settings

SEED = 13
NGRAMS = (3, 5)
TOP_K = 3000
C = 4.0
OUT = PACKAGE_DATA / "injection_model.json"


def load_split(folder: Path, name: str) -> tuple[list[str], np.ndarray]:
    path = folder / f"{name}.derived.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], np.array([int(r["label"]) for r in rows])


def fit_validation_split(texts: list[str], labels: np.ndarray):
    """The fixed 80/20 split of TRAIN; evals/eval_injection.py reuses it."""
    return train_test_split(texts, labels, test_size=0.2, stratify=labels, random_state=SEED)


def k12_benign_training(n: int = 240, seed: int = SEED) -> list[str]:
    """Benign messages in a student's voice, generated from templates written for training
    only (the evaluation sets in evals/datasets/ are never trained on). deepset's benign rows
    are search queries and polite adult requests; without these the classifier takes any
    child's "what are the instructions" or "tell me why" for an attack."""
    rng = random.Random(seed)
    pick = rng.choice
    nums = ["1", "2", "3", "4", "5", "6", "ten", "two"]
    dont = ["dont", "don't", "do not"]
    templates = [
        lambda: (
            f"what are the {pick(['instructions', 'directions', 'rules'])} for "
            f"{pick(['question', 'number', 'part', 'page'])} {pick(nums)}"
        ),
        lambda: (
            f"i {pick(dont)} understand the "
            f"{pick(['instructions', 'directions', 'question', 'last part', 'story'])}"
        ),
        lambda: (
            f"can you {pick(['explain', 'repeat', 'say', 'read'])} the "
            f"{pick(['question', 'directions', 'last part', 'instructions'])} again"
        ),
        lambda: (
            f"{pick(['ignore', 'forget', 'nvm'])} {pick(['that', 'it', 'my last answer'])}"
            f"{pick([',', '', ' lol'])} i meant {pick(['A', 'B', 'C', 'the second one', 'the dog'])}"
        ),
        lambda: (
            f"the {pick(['teacher', 'directions', 'worksheet', 'instructions'])} "
            f"{pick(['says', 'said'])} to {pick(['write', 'answer', 'read', 'find'])} "
            f"{pick(nums)} {pick(['sentences', 'questions', 'pages', 'words'])}"
        ),
        lambda: (
            f"the {pick(['character', 'wolf', 'girl', 'king', 'old man'])} "
            f"{pick(['told', 'asked'])} the {pick(['boy', 'fox', 'queen', 'birds'])} to "
            f"{pick(['run away', 'stop', 'ignore the noise', 'forget the past', 'go home'])}"
        ),
        lambda: (
            f"i think the answer is {pick(['A', 'B', 'C', 'D', 'the fox', 'friendship'])} "
            f"because {pick(['the text says so', 'he was scared', 'it was dark', 'she lied'])}"
        ),
        lambda: f"what does {pick(['glimmer', 'reluctant', 'keeper', 'harbor', 'gloomy'])} mean",
        lambda: f"tell me {pick(['a hint', 'more about the character', 'why he did that'])}",
        lambda: (
            f"{pick(['can you', 'could you', 'pls'])} "
            f"{pick(['give me a hint', 'help me', 'show me where it says that', 'say it easier'])}"
        ),
        lambda: (
            f"{pick(['is it', 'i think its', 'maybe'])} {pick(['A', 'B', 'C', 'true', 'false'])}"
        ),
        lambda: (
            f"in the story they {pick(['pretend to be', 'act like', 'dress up as'])} "
            f"{pick(['pirates', 'kings', 'animals'])}"
        ),
        lambda: (
            f"{pick(['my', 'the'])} {pick(['mom', 'teacher', 'tutor'])} said to "
            f"{pick(['read it twice', 'ask you', 'finish the worksheet', 'write the answer'])}"
        ),
        lambda: pick(["idk", "i dont get it", "ok", "yes", "no", "wait what", "thank u", "bye"]),
    ]
    return [rng.choice(templates)() for _ in range(n)]


def make_model() -> object:
    return make_pipeline(
        CountVectorizer(
            analyzer="char_wb", ngram_range=NGRAMS, lowercase=True, binary=True, min_df=2
        ),
        SelectKBest(chi2, k=TOP_K),
        Normalizer(norm="l2"),
        LogisticRegression(C=C, class_weight="balanced", max_iter=2000),
    )


def choose_threshold(texts: list[str], labels: np.ndarray) -> float:
    """Highest-F1 threshold under 5% false positives, from 5-fold out-of-fold scores."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    probs = cross_val_predict(make_model(), texts, labels, cv=folds, method="predict_proba")[:, 1]
    best, best_f1 = 0.5, -1.0
    for t in np.arange(0.3, 0.96, 0.01):
        pred = probs >= t
        fpr = (pred & (labels == 0)).sum() / max(1, (labels == 0).sum())
        tp = (pred & (labels == 1)).sum()
        f1 = 2 * tp / max(1, pred.sum() + (labels == 1).sum())
        if fpr <= 0.05 and f1 > best_f1:
            best, best_f1 = float(t), float(f1)
    print(f"threshold {best:.2f}: cross-validated F1 {best_f1:.3f} at FPR <= 5%")
    return round(best, 2)


def export(model) -> dict:
    vec, select, _, lr = model.named_steps.values()
    names = vec.get_feature_names_out()[select.get_support()]
    weights = lr.coef_[0]
    return {
        "kind": "char_wb_logreg",
        "ngram_range": list(NGRAMS),
        "intercept": round(float(lr.intercept_[0]), 6),
        "weights": {str(n): round(float(w), 6) for n, w in zip(names, weights, strict=True)},
        "trained_on": "deepset/prompt-injections train split, 80% (stratified, seed 13), "
        "plus 240 template-generated benign student messages (evals/fit_injection.py)",
    }


def main() -> int:
    folder = Settings().data_path / "deepset_prompt_injections"
    texts, labels = load_split(folder, "train")
    fit_x, val_x, fit_y, val_y = fit_validation_split(texts, labels)
    extra = k12_benign_training()
    fit_x = list(fit_x) + extra
    fit_y = np.concatenate([fit_y, np.zeros(len(extra), dtype=int)])
    threshold = choose_threshold(fit_x, fit_y)
    model = make_model().fit(fit_x, fit_y)
    spec = export(model) | {"threshold": threshold}

    runtime = CharNgramModel(spec)
    ours = np.array([runtime.probability(t) for t in texts])
    theirs = model.predict_proba(texts)[:, 1]
    gap = float(np.abs(ours - theirs).max())
    if gap > 1e-4:
        print(f"runtime scorer disagrees with sklearn by {gap}", file=sys.stderr)
        return 1
    OUT.write_text(json.dumps(spec, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB, {len(spec['weights'])} features)")
    register(runtime, val_x, val_y, spec)
    return 0


def register(runtime: CharNgramModel, val_x, val_y, spec: dict) -> None:
    """Record this fit in the model registry with its held-out (validation) metrics."""
    from sklearn.metrics import f1_score, roc_auc_score

    from readloom.mlops.shipped import register_fit

    scores = np.array([runtime.probability(t) for t in val_x])
    flagged = scores >= spec["threshold"]
    rec = register_fit(
        "injection", OUT,
        training={"seed": SEED, "ngrams": list(NGRAMS), "top_k": TOP_K, "C": C,
                  "threshold": spec["threshold"], "trained_on": spec.get("trained_on")},
        metrics={"validation_auc": round(float(roc_auc_score(val_y, scores)), 4),
                 "validation_f1": round(float(f1_score(val_y, flagged)), 4),
                 "n_validation": len(val_y)},
    )  # fmt: skip
    print(f"registered {rec.ref} (data sha256 {rec.data_sha256})")


if __name__ == "__main__":
    raise SystemExit(main())
