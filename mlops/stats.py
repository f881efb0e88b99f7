"""Two-arm comparisons with a proper test: two-proportion z (0/1 outcomes), Welch's t
(numeric outcomes), or a bootstrap percentile interval with a permutation p-value.

Experiments are fixed-horizon: the sample size per arm is planned up front from the
smallest effect worth detecting (``planned_n``), and a report before that horizon says so
and gives no verdict, so looking early cannot inflate the false-positive rate.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy import stats

from readloom.errors import InputError

Method = Literal["auto", "z", "welch", "bootstrap"]


class Comparison(BaseModel):
    control: str
    treatment: str
    method: Literal["two_proportion_z", "welch_t", "bootstrap"]
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    effect: float  # treatment - control (absolute: proportion points or outcome units)
    ci_low: float
    ci_high: float
    p_value: float
    standardized_effect: float | None  # Cohen's h (proportions) or d (numeric)
    alpha: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def _binary(x: np.ndarray) -> bool:
    return bool(np.isin(x, (0.0, 1.0)).all())


def two_proportion_z(
    a: np.ndarray, b: np.ndarray, alpha: float
) -> tuple[float, float, float, float]:
    """(effect, ci_low, ci_high, p): pooled SE for the test, unpooled for the interval."""
    na, nb = len(a), len(b)
    pa, pb = float(a.mean()), float(b.mean())
    pooled = (a.sum() + b.sum()) / (na + nb)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    diff = pb - pa
    p = 1.0 if se0 == 0 else float(2 * stats.norm.sf(abs(diff) / se0))
    se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    z = stats.norm.ppf(1 - alpha / 2)
    return diff, diff - z * se, diff + z * se, p


def welch(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[float, float, float, float]:
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(b.mean() - a.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff, 1.0 if diff == 0 else 0.0
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    t = stats.t.ppf(1 - alpha / 2, df)
    return diff, diff - t * se, diff + t * se, p


def bootstrap(
    a: np.ndarray, b: np.ndarray, alpha: float, *, rounds: int = 2000, seed: int = 0
) -> tuple[float, float, float, float]:
    """Percentile CI of the mean difference; two-sided permutation p-value."""
    rng = np.random.default_rng(seed)
    diff = float(b.mean() - a.mean())
    boots = rng.choice(b, (rounds, len(b))).mean(1) - rng.choice(a, (rounds, len(a))).mean(1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    pooled = np.concatenate([a, b])
    perm = np.array([rng.permutation(pooled) for _ in range(rounds)])
    null = perm[:, len(a) :].mean(1) - perm[:, : len(a)].mean(1)
    p = float((np.sum(np.abs(null) >= abs(diff)) + 1) / (rounds + 1))
    return diff, float(lo), float(hi), p


def compare(
    control: np.ndarray,
    treatment: np.ndarray,
    *,
    names: tuple[str, str] = ("control", "treatment"),
    method: Method = "auto",
    alpha: float = 0.05,
) -> Comparison:
    a = np.asarray(control, dtype=np.float64)
    b = np.asarray(treatment, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise InputError("each arm needs at least two outcomes")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InputError("outcomes must be finite numbers")
    binary = _binary(a) and _binary(b)
    if method == "auto":
        method = "z" if binary else "welch"
    if method == "z" and not binary:
        raise InputError("the two-proportion z test needs 0/1 outcomes")
    run = {"z": two_proportion_z, "welch": welch, "bootstrap": bootstrap}[method]
    effect, lo, hi, p = run(a, b, alpha)
    if binary:
        std: float | None = float(
            2 * math.asin(math.sqrt(b.mean())) - 2 * math.asin(math.sqrt(a.mean()))
        )
    else:
        sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        std = effect / sd if sd > 0 else None
    label = {"z": "two_proportion_z", "welch": "welch_t", "bootstrap": "bootstrap"}[method]
    return Comparison(
        control=names[0], treatment=names[1], method=label,  # type: ignore[arg-type]
        n_control=len(a), n_treatment=len(b), mean_control=float(a.mean()),
        mean_treatment=float(b.mean()), effect=effect, ci_low=lo, ci_high=hi, p_value=p,
        standardized_effect=std, alpha=alpha,
    )  # fmt: skip


def planned_n(baseline: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Students per arm for a two-proportion test to detect ``mde`` (absolute) from
    ``baseline`` with ``power`` at two-sided ``alpha``."""
    if not 0 < baseline < 1 or not 0 < baseline + mde < 1 or mde == 0:
        raise InputError("baseline and baseline + mde must be proportions in (0, 1)")
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    p1, p2 = baseline, baseline + mde
    pbar = (p1 + p2) / 2
    n = za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(n**2 / mde**2)


def simulate_rates(
    *,
    p_control: float,
    p_treatment: float,
    n: int,
    runs: int,
    alpha: float = 0.05,
    seed: int = 0,
) -> float:
    """Share of simulated experiments the z test calls significant (FPR or power).
    Vectorised: the same statistic as ``two_proportion_z``, over ``runs`` at once."""
    rng = np.random.default_rng(seed)
    xa = rng.binomial(n, p_control, runs)
    xb = rng.binomial(n, p_treatment, runs)
    pooled = (xa + xb) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, np.abs(xb - xa) / n / se, 0.0)
    return float(np.mean(2 * stats.norm.sf(z) < alpha))


def exact_rejection_rate(
    *, p_control: float, p_treatment: float, n: int, alpha: float = 0.05
) -> float:
    """The z test's exact rejection probability, summed over every pair of binomial
    counts (no Monte Carlo error): the false-positive rate when the rates are equal,
    the power otherwise."""
    x = np.arange(n + 1)
    xa, xb = np.meshgrid(x, x, indexing="ij")
    pooled = (xa + xb) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, np.abs(xb - xa) / n / se, 0.0)
    weights = np.outer(stats.binom.pmf(x, n, p_control), stats.binom.pmf(x, n, p_treatment))
    return float(weights[2 * stats.norm.sf(z) < alpha].sum())
