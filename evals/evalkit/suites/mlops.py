"""Operating the models (issue: registry, experiments, drift, fairness):

- experiment statistics on simulated two-arm data (Barnard's exact test, which
  ``readloom experiment analyze`` runs on 0/1 outcomes): false-positive rate with no true
  difference and power for a true 10-point difference, n = 400 per arm, at a 50%
  baseline; the test's exact size, the largest false-positive rate over every common
  baseline; and (informational) the lowest exact power over baselines from 0.2 to 0.7, which
  falls at 0.45 vs 0.55, the pair centred on 0.5;
- drift: false alarms over windows drawn from the reference distribution, and whether a
  length shift is flagged within one window;
- fairness (``readloom audit fairness``): PII recall spread across name-origin groups
  through the real gate, grading acceptance spread across spelling/dialect variants, and
  recommendation coverage of the eligible passages.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from evalkit.context import EvalContext
from evalkit.model import SuiteOutput

RUNS = 20_000


def run(ctx: EvalContext) -> SuiteOutput:
    from readloom.mlops import monitor
    from readloom.mlops.fairness import run_audit
    from readloom.mlops.stats import exact_rejection_rate, exact_size, simulate_rates

    out = SuiteOutput()
    fpr = simulate_rates(p_control=0.5, p_treatment=0.5, n=400, runs=RUNS, seed=1)
    power = simulate_rates(p_control=0.5, p_treatment=0.6, n=400, runs=RUNS, seed=2)
    out.add("experiment_fpr", fpr, n=RUNS, note="simulated null, n=400/arm, baseline 0.5")
    out.add("experiment_power_10pt", power, n=RUNS, note="simulated 0.5 vs 0.6, n=400/arm")
    out.add("experiment_fpr_exact", exact_rejection_rate(p_control=0.5, p_treatment=0.5, n=400),
            note="exact over all binomial outcomes (no simulation error)")  # fmt: skip
    out.add("experiment_power_10pt_exact",
            exact_rejection_rate(p_control=0.5, p_treatment=0.6, n=400))  # fmt: skip
    size, at = exact_size(400)
    low = min((exact_rejection_rate(p_control=b, p_treatment=b + 0.1, n=400), b)
              for b in (0.2, 0.3, 0.4, 0.45, 0.5, 0.6))  # fmt: skip
    out.add("experiment_power_10pt_min_exact", low[0],
            note=f"lowest over baselines, at {low[1]:.2f} vs {low[1] + 0.1:.2f}")  # fmt: skip
    out.add("experiment_size_exact", size,
            note=f"largest exact false-positive rate over baselines (at {at:.3f})")  # fmt: skip

    rng = np.random.default_rng(3)

    def window(n: int, scale: float = 1.0) -> monitor.Window:
        words = np.maximum(1, rng.normal(12 * scale, 3, n).astype(int))
        return monitor.Window().extend(
            {"kind": "message", "text": " ".join(["the fox ran"] * int(w)), "reply": "ok"}
            for w in words
        )

    reference = window(2000)
    alarms = sum(bool(monitor.compare(reference, window(400))["drifted"]) for _ in range(50))
    out.add("drift_false_alarm_rate", alarms / 50, n=50, note="reference-distribution windows")
    shifted = monitor.compare(reference, window(400, 1.5))["drifted"]
    out.add("drift_length_shift_flagged", float("message_words" in shifted), n=1)

    with tempfile.TemporaryDirectory(prefix="readloom-eval-fairness-") as tmp:
        report = run_audit(ctx.settings, out=Path(tmp), redactor=ctx.services().guards.redactor)
    for goal in report["goals"]:
        out.add(goal["name"], goal["value"])
    for group, v in report["pii"].items():
        out.add(f"pii_recall.{group}", v["recall"], n=v["n"])
    for variant, v in report["grading"].items():
        out.add(f"grading_acceptance.{variant}", v["acceptance"], n=v["n"])
    return out
