"""Two-arm comparisons with a proper test: Barnard's unconditional exact test (0/1
outcomes), Welch's t (numeric outcomes), or a bootstrap percentile interval with a
permutation p-value.

Why Barnard's and not the two-proportion z test: at n = 400 per arm the z test's
statistic is discrete, and its real false-positive rate at a 0.5 baseline is 0.0518, not
0.05. Barnard's test uses the same pooled z statistic but takes its p-value as the
largest tail probability over every common success rate (the nuisance parameter), so
its size is at most alpha whatever the baseline (0.0499 at n = 400, where its power for
a 10-point difference is 0.812). Its cost grows with n1 * n2 (half a second at 400 per
arm); above ``EXACT_MAX_OUTCOMES`` table outcomes the z test is used, where the
discreteness it suffers from is smaller.

Experiments are fixed-horizon: the sample size per arm is planned up front from the
smallest effect worth detecting (``planned_n``), and a report before that horizon says so
and gives no verdict, so looking early cannot inflate the false-positive rate.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy import stats

from readloom.errors import InputError

Method = Literal["auto", "barnard", "z", "welch", "bootstrap"]
BinaryTest = Literal["barnard", "z"]
EXACT_MAX_OUTCOMES = 640_000  # (n1 + 1) * (n2 + 1) tables Barnard's test enumerates
_LABELS = {"barnard": "barnard_exact", "z": "two_proportion_z", "welch": "welch_t",
           "bootstrap": "bootstrap"}  # fmt: skip


class Comparison(BaseModel):
    control: str
    treatment: str
    method: Literal["barnard_exact", "two_proportion_z", "welch_t", "bootstrap"]
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


def barnard(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[float, float, float, float]:
    """(effect, ci_low, ci_high, p): Barnard's exact p-value (pooled z statistic, two
    sided, ``scipy.stats.barnard_exact``) with the z test's unpooled interval."""
    diff, lo, hi, _ = two_proportion_z(a, b, alpha)
    xa, xb = int(a.sum()), int(b.sum())
    table = [[xa, xb], [len(a) - xa, len(b) - xb]]  # columns: the two arms
    p = float(stats.barnard_exact(table, alternative="two-sided", pooled=True).pvalue)
    return diff, lo, hi, min(1.0, p)


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
        method = binary_test(len(a), len(b)) if binary else "welch"
    if method in ("z", "barnard") and not binary:
        raise InputError(f"the {_LABELS[method]} test needs 0/1 outcomes")
    run = {"barnard": barnard, "z": two_proportion_z, "welch": welch, "bootstrap": bootstrap}[
        method
    ]
    effect, lo, hi, p = run(a, b, alpha)
    if binary:
        std: float | None = float(
            2 * math.asin(math.sqrt(b.mean())) - 2 * math.asin(math.sqrt(a.mean()))
        )
    else:
        sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        std = effect / sd if sd > 0 else None
    label = _LABELS[method]
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


def binary_test(n_control: int, n_treatment: int) -> BinaryTest:
    """The test ``compare`` runs on 0/1 outcomes of arms this size."""
    return "barnard" if (n_control + 1) * (n_treatment + 1) <= EXACT_MAX_OUTCOMES else "z"


def _pooled_z(xa: np.ndarray, xb: np.ndarray, na: int, nb: int) -> np.ndarray:
    """|pooled two-proportion z| for success counts ``xa`` of ``na`` and ``xb`` of ``nb``."""
    pooled = (xa + xb) / (na + nb)
    se = np.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, np.abs(xb / nb - xa / na) / np.where(se > 0, se, 1), 0.0)


@lru_cache(maxsize=32)
def barnard_critical_z(n_control: int, n_treatment: int, alpha: float = 0.05) -> float:
    """The smallest |pooled z| Barnard's test calls significant at ``alpha`` for these arm
    sizes. Its p-value falls as |z| grows, so a bisection over the distinct values of the
    statistic, asking ``scipy.stats.barnard_exact`` itself at each step (about 17 calls),
    finds the boundary: a simulation then runs exactly the test ``compare`` runs."""
    xa, xb = np.meshgrid(np.arange(n_control + 1), np.arange(n_treatment + 1), indexing="ij")
    z = _pooled_z(xa, xb, n_control, n_treatment).ravel()
    values, first = np.unique(z, return_index=True)

    def p_at(i: int) -> float:
        a, b = divmod(int(first[i]), n_treatment + 1)
        table = [[a, b], [n_control - a, n_treatment - b]]
        return float(stats.barnard_exact(table, alternative="two-sided", pooled=True).pvalue)

    lo, hi = 0, len(values) - 1  # invariant: p_at(hi) <= alpha < p_at(lo - 1)
    if p_at(hi) > alpha:
        return math.inf
    while lo < hi:
        mid = (lo + hi) // 2
        if p_at(mid) <= alpha:
            hi = mid
        else:
            lo = mid + 1
    return float(values[lo])


def _rejects(
    xa: np.ndarray, xb: np.ndarray, na: int, nb: int, alpha: float, test: BinaryTest
) -> np.ndarray:
    z = _pooled_z(xa, xb, na, nb)
    if test == "barnard":
        return z >= barnard_critical_z(na, nb, alpha) * (1 - 1e-12)
    return 2 * stats.norm.sf(z) < alpha


def simulate_rates(
    *,
    p_control: float,
    p_treatment: float,
    n: int,
    runs: int,
    alpha: float = 0.05,
    seed: int = 0,
    test: BinaryTest = "barnard",
) -> float:
    """Share of simulated experiments that ``test`` calls significant (FPR or power).
    Vectorised over ``runs``: each run's decision is the test's own (see
    ``barnard_critical_z``)."""
    rng = np.random.default_rng(seed)
    xa = rng.binomial(n, p_control, runs)
    xb = rng.binomial(n, p_treatment, runs)
    return float(np.mean(_rejects(xa, xb, n, n, alpha, test)))


def _rejection_region(n: int, alpha: float, test: BinaryTest) -> np.ndarray:
    x = np.arange(n + 1)
    xa, xb = np.meshgrid(x, x, indexing="ij")
    return _rejects(xa, xb, n, n, alpha, test)


def exact_rejection_rate(
    *,
    p_control: float,
    p_treatment: float,
    n: int,
    alpha: float = 0.05,
    test: BinaryTest = "barnard",
) -> float:
    """The test's exact rejection probability, summed over every pair of binomial counts
    (no Monte Carlo error): the false-positive rate when the rates are equal, the power
    otherwise."""
    x = np.arange(n + 1)
    weights = np.outer(stats.binom.pmf(x, n, p_control), stats.binom.pmf(x, n, p_treatment))
    return float(weights[_rejection_region(n, alpha, test)].sum())


def exact_size(
    n: int, *, alpha: float = 0.05, test: BinaryTest = "barnard", grid: int = 999
) -> tuple[float, float]:
    """(size, rate): the largest false-positive rate over common success rates on a grid
    of ``grid`` points in (0, 1), and where it occurs. A test is honest at ``alpha`` when
    this is at most ``alpha``, not only at one baseline."""
    x = np.arange(n + 1)
    rates = np.linspace(0, 1, grid + 2)[1:-1]
    pmf = stats.binom.pmf(x[None, :], n, rates[:, None])  # (grid, n + 1)
    region = _rejection_region(n, alpha, test).astype(np.float64)
    sizes = np.einsum("gi,ij,gj->g", pmf, region, pmf)
    k = int(np.argmax(sizes))
    return float(sizes[k]), float(rates[k])
