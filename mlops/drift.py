"""Drift between a reference window and a current window: PSI and KS with thresholds.

Written here on numpy/scipy rather than Evidently: Evidently pulls pandas, plotly,
statsmodels, litestar and a telemetry client (two dozen packages) for the three
statistics used here. Feature kinds:

- ``numeric`` (message length, reply length, passage reading level): PSI over the
  reference's deciles and the two-sample KS test. Drift when PSI > 0.2 or (KS D > 0.1 and
  p < 1e-4): PSI 0.1-0.25 is the usual "moderate shift" band; the small p keeps a dozen
  features checked every window from alarming by chance (Bonferroni-minded).
- ``category`` (script and language mix, tutoring move, recommended passage): PSI over the
  categories (those under 1% of both windows pooled as "other"); drift when PSI > 0.2.
- ``rate`` (PII, injection, crisis, fallback-to-offline): drift when the change is at
  least ``min_change`` absolute and a two-proportion z test gives p < 0.001.
- calibration: predicted P(correct) against observed by decile of prediction; drift when
  the current window's expected calibration error exceeds the reference's by 0.05.

Thresholds are conservative on purpose: a window drawn from the reference distribution
must not alarm (cron pages a person), while shifts of the size that matter are seen
within one window of a few hundred events.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel
from scipy import stats

PSI_THRESHOLD = 0.2
KS_D, KS_P = 0.1, 1e-4
RATE_P = 1e-4
CALIBRATION_P = 1e-4
ECE_MARGIN = 0.05
MIN_SAMPLES = 30
_EPS = 1e-4

Kind = Literal["numeric", "category", "rate", "calibration"]


class FeatureDrift(BaseModel):
    feature: str
    kind: Kind
    n_reference: int
    n_current: int
    psi: float | None = None
    ks_d: float | None = None
    ks_p: float | None = None
    reference: float | None = None  # rate / ECE / mean of the reference
    current: float | None = None
    p_value: float | None = None
    drifted: bool
    reason: str | None = None


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    ref = np.clip(ref, _EPS, None)
    cur = np.clip(cur, _EPS, None)
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_numeric(ref: Sequence[float], cur: Sequence[float], bins: int = 10) -> float:
    r, c = np.asarray(ref, float), np.asarray(cur, float)
    edges = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)[1:-1]))
    rc = np.bincount(np.searchsorted(edges, r, side="right"), minlength=len(edges) + 1)
    cc = np.bincount(np.searchsorted(edges, c, side="right"), minlength=len(edges) + 1)
    return _psi(rc.astype(float), cc.astype(float))


def psi_category(ref: Sequence[str], cur: Sequence[str]) -> float:
    rc, cc = Counter(ref), Counter(cur)
    total = len(ref) + len(cur)
    keep = [k for k in set(rc) | set(cc) if (rc[k] + cc[k]) / total >= 0.01]
    other = lambda c: sum(v for k, v in c.items() if k not in keep)  # noqa: E731
    r = np.array([rc[k] for k in keep] + [other(rc)], float)
    c = np.array([cc[k] for k in keep] + [other(cc)], float)
    return _psi(r, c)


def numeric(name: str, ref: Sequence[float], cur: Sequence[float]) -> FeatureDrift:
    base = {"feature": name, "kind": "numeric", "n_reference": len(ref), "n_current": len(cur)}
    if len(ref) < MIN_SAMPLES or len(cur) < MIN_SAMPLES:
        return FeatureDrift(**base, drifted=False, reason="too few samples")
    psi = psi_numeric(ref, cur)
    ks = stats.ks_2samp(ref, cur)
    drifted = psi > PSI_THRESHOLD or (ks.statistic > KS_D and ks.pvalue < KS_P)
    return FeatureDrift(
        **base, psi=round(psi, 4), ks_d=round(float(ks.statistic), 4), ks_p=float(ks.pvalue),
        reference=float(np.mean(ref)), current=float(np.mean(cur)), drifted=drifted,
    )  # fmt: skip


def category(name: str, ref: Sequence[str], cur: Sequence[str]) -> FeatureDrift:
    base = {"feature": name, "kind": "category", "n_reference": len(ref), "n_current": len(cur)}
    if len(ref) < MIN_SAMPLES or len(cur) < MIN_SAMPLES:
        return FeatureDrift(**base, drifted=False, reason="too few samples")
    psi = psi_category(ref, cur)
    return FeatureDrift(**base, psi=round(psi, 4), drifted=psi > PSI_THRESHOLD)


def rate(
    name: str, ref: Sequence[bool], cur: Sequence[bool], *, min_change: float = 0.02
) -> FeatureDrift:
    base = {"feature": name, "kind": "rate", "n_reference": len(ref), "n_current": len(cur)}
    if len(ref) < MIN_SAMPLES or len(cur) < MIN_SAMPLES:
        return FeatureDrift(**base, drifted=False, reason="too few samples")
    r, c = float(np.mean(ref)), float(np.mean(cur))
    pooled = (sum(ref) + sum(cur)) / (len(ref) + len(cur))
    se = math.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
    p = 1.0 if se == 0 else float(2 * stats.norm.sf(abs(c - r) / se))
    drifted = abs(c - r) >= min_change and p < RATE_P
    return FeatureDrift(**base, reference=r, current=c, p_value=p, drifted=drifted)


def ece(pred: Sequence[float], obs: Sequence[int], bins: int = 10) -> float:
    """Expected calibration error over deciles of the prediction."""
    p, y = np.asarray(pred, float), np.asarray(obs, float)
    order = np.argsort(p, kind="stable")
    total = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            total += len(chunk) * abs(p[chunk].mean() - y[chunk].mean())
    return total / len(p)


def calibration_table(pred: Sequence[float], obs: Sequence[int]) -> list[dict[str, float]]:
    p, y = np.asarray(pred, float), np.asarray(obs, float)
    order = np.argsort(p, kind="stable")
    return [
        {"decile": i + 1, "predicted": round(float(p[c].mean()), 4),
         "observed": round(float(y[c].mean()), 4), "n": len(c)}
        for i, c in enumerate(np.array_split(order, 10)) if len(c)
    ]  # fmt: skip


def _residuals(edges: np.ndarray, pred: np.ndarray, obs: np.ndarray):
    bins = np.searchsorted(edges, pred, side="right")
    k = len(edges) + 1
    n = np.bincount(bins, minlength=k).astype(float)
    res = obs - pred
    mean = np.bincount(bins, res, minlength=k) / np.maximum(n, 1)
    var = np.bincount(bins, pred * (1 - pred), minlength=k) / np.maximum(n, 1)
    return n, mean, var


def calibration(name: str, ref: tuple[list, list], cur: tuple[list, list]) -> FeatureDrift:
    base = {"feature": name, "kind": "calibration", "n_reference": len(ref[0]),
            "n_current": len(cur[0])}  # fmt: skip
    if len(ref[0]) < MIN_SAMPLES * 3 or len(cur[0]) < MIN_SAMPLES * 3:
        return FeatureDrift(**base, drifted=False, reason="too few samples")
    rp, ro = np.asarray(ref[0], float), np.asarray(ref[1], float)
    cp, co = np.asarray(cur[0], float), np.asarray(cur[1], float)
    edges = np.unique(np.quantile(rp, np.linspace(0, 1, 11)[1:-1]))
    rn, rm, rv = _residuals(edges, rp, ro)
    cn, cm, cv = _residuals(edges, cp, co)
    use = (rn > 0) & (cn > 0)
    se2 = rv[use] / rn[use] + cv[use] / cn[use]
    chi = float(np.sum((cm[use] - rm[use]) ** 2 / np.maximum(se2, 1e-12)))
    p = float(stats.chi2.sf(chi, int(use.sum())))
    r, c = ece(rp, ro), ece(cp, co)
    return FeatureDrift(**base, reference=round(r, 4), current=round(c, 4), p_value=p,
                        drifted=p < CALIBRATION_P and c > r + ECE_MARGIN)  # fmt: skip


def summarize(features: list[FeatureDrift]) -> dict[str, Any]:
    return {
        "drifted": [f.feature for f in features if f.drifted],
        "features": [f.model_dump() for f in features],
    }
