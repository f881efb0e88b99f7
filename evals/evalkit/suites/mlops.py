"""Operating the models (issue: registry, experiments, drift, fairness):

- experiment statistics on simulated two-arm data (the two-proportion z test of
  ``readloom experiment analyze``): false-positive rate with no true difference and power
  for a true 10-point difference, n = 400 per arm, at a 50% baseline (the hardest case);
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
    from readloom.mlops.stats import exact_rejection_rate, simulate_rates

    out = SuiteOutput()
    fpr = simulate_rates(p_control=0.5, p_treatment=0.5, n=400, runs=RUNS, seed=1)
    power = simulate_rates(p_control=0.5, p_treatment=0.6, n=400, runs=RUNS, seed=2)
    out.add("experiment_fpr", fpr, n=RUNS, note="simulated null, n=400/arm, baseline 0.5")
    out.add("experiment_power_10pt", power, n=RUNS, note="simulated 0.5 vs 0.6, n=400/arm")
    out.add("experiment_fpr_exact", exact_rejection_rate(p_control=0.5, p_treatment=0.5, n=400),
            note="exact over all binomial outcomes (no simulation error)")  # fmt: skip
    out.add("experiment_power_10pt_exact",
            exact_rejection_rate(p_control=0.5, p_treatment=0.6, n=400))  # fmt: skip

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
