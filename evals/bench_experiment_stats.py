"""Experiment statistics at the issue's design point: n = 400 students per arm.

    python evals/bench_experiment_stats.py [--runs 20000]

Prints, per control rate, the simulated and the exact (enumerated over every pair of
binomial counts) false-positive rate of ``readloom experiment analyze``'s test on 0/1
outcomes (Barnard's exact test) with no true difference, and its power for a true
10-point difference; the test's exact size (the largest false-positive rate over every
baseline) beside the two-proportion z test's, which it replaced; then what peeking after
every 50 students would do to the false-positive rate (why reports are fixed-horizon).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy import stats

from readloom.mlops.stats import (
    barnard_critical_z,
    exact_rejection_rate,
    exact_size,
    simulate_rates,
)

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
    wall, cpu = time.perf_counter(), time.process_time()
    critical = barnard_critical_z(N, N)
    boundary_s = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    rows = []
    for base in (0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7):
        rows.append({
            "control_rate": base,
            "fpr_simulated": simulate_rates(p_control=base, p_treatment=base, n=N, runs=args.runs, seed=1),
            "fpr_exact": round(exact_rejection_rate(p_control=base, p_treatment=base, n=N), 4),
            "power_10pt_simulated": simulate_rates(p_control=base, p_treatment=base + 0.1, n=N, runs=args.runs, seed=2),
            "power_10pt_exact": round(exact_rejection_rate(p_control=base, p_treatment=base + 0.1, n=N), 4),
        })  # fmt: skip
    sizes = {test: dict(zip(("size", "at_rate"), exact_size(N, test=test), strict=True)) for test in ("barnard", "z")}  # fmt: skip
    print(json.dumps({"n_per_arm": N, "runs": args.runs, "test": "barnard_exact",
                      "critical_abs_z": critical, "boundary_seconds": boundary_s,
                      "exact_size": sizes, "rows": rows,
                      "peeking_every_50_fpr": peeking_fpr(min(args.runs, 4000))}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
