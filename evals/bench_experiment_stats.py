"""Experiment statistics at the issue's design point: n = 400 students per arm.

    python evals/bench_experiment_stats.py [--runs 20000]

Prints, per control rate, the simulated and the exact (enumerated over every pair of
binomial counts) false-positive rate of ``readloom experiment analyze``'s two-proportion
z test with no true difference, and its power for a true 10-point difference; then what
peeking after every 50 students would do to the false-positive rate (why reports are
fixed-horizon).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy import stats

from readloom.mlops.stats import exact_rejection_rate, simulate_rates

N = 400


def peeking_fpr(runs: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    a = rng.random((runs, N)) < 0.5
    b = rng.random((runs, N)) < 0.5
    hit = np.zeros(runs, dtype=bool)
    for n in range(50, N + 1, 50):
        pa, pb = a[:, :n].mean(1), b[:, :n].mean(1)
        pool = (pa + pb) / 2
        z = np.abs(pb - pa) / np.sqrt(pool * (1 - pool) * 2 / n)
        hit |= 2 * stats.norm.sf(z) < 0.05
    return float(hit.mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    args = parser.parse_args()
    rows = []
    for base in (0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7):
        rows.append({
            "control_rate": base,
            "fpr_simulated": simulate_rates(p_control=base, p_treatment=base, n=N, runs=args.runs, seed=1),
            "fpr_exact": round(exact_rejection_rate(p_control=base, p_treatment=base, n=N), 4),
            "power_10pt_simulated": simulate_rates(p_control=base, p_treatment=base + 0.1, n=N, runs=args.runs, seed=2),
            "power_10pt_exact": round(exact_rejection_rate(p_control=base, p_treatment=base + 0.1, n=N), 4),
        })  # fmt: skip
    print(json.dumps({"n_per_arm": N, "runs": args.runs, "rows": rows,
                      "peeking_every_50_fpr": peeking_fpr(min(args.runs, 4000))}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
