"""Experiment statistics: calibrated under the null, powered for a 10-point difference."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats as sps

from readloom.cli import main
from readloom.mlops.experiments import assign
from readloom.mlops.stats import compare, planned_n, simulate_rates

RUNS = 4000
MC_SE = math.sqrt(0.05 * 0.95 / RUNS)


@pytest.mark.parametrize("base", [0.3, 0.5, 0.7])
def test_false_positive_rate_is_nominal_under_the_null(base: float) -> None:
    fpr = simulate_rates(p_control=base, p_treatment=base, n=400, runs=RUNS, seed=11)
    # at most the 5% level, up to Monte Carlo error (see the note on the binomial lattice)
    assert fpr <= 0.05 + 2 * MC_SE, fpr


@pytest.mark.parametrize("base", [0.3, 0.45, 0.6])
def test_power_for_a_ten_point_difference_at_400_per_arm(base: float) -> None:
    power = simulate_rates(p_control=base, p_treatment=base + 0.10, n=400, runs=RUNS, seed=12)
    assert power >= 0.80, power


def test_peeking_would_inflate_false_positives_fixed_horizon_does_not() -> None:
    """Why reports give no verdict before the horizon: testing after every 50 students
    and stopping at the first p < 0.05 more than doubles the false-positive rate."""
    rng = np.random.default_rng(5)
    runs, looks = 1000, range(50, 401, 50)
    a = rng.random((runs, 400)) < 0.5
    b = rng.random((runs, 400)) < 0.5
    peeked = np.zeros(runs, dtype=bool)
    for n in looks:
        pa, pb = a[:, :n].mean(1), b[:, :n].mean(1)
        pool = (pa + pb) / 2
        z = np.abs(pb - pa) / np.sqrt(pool * (1 - pool) * 2 / n)
        peeked |= 2 * sps.norm.sf(z) < 0.05
    final = [compare(a[i], b[i]).p_value < 0.05 for i in range(runs)]
    assert peeked.mean() > 2 * np.mean(final)
    assert np.mean(final) <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


def test_compare_agrees_with_scipy_and_covers() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(10, 2, 300), rng.normal(10.5, 3, 250)
    c = compare(a, b)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert c.method == "welch_t" and c.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert c.ci_low < 0.5 < c.ci_high
    z = compare(np.r_[np.ones(60), np.zeros(40)], np.r_[np.ones(45), np.zeros(55)])
    assert z.method == "two_proportion_z" and z.effect == pytest.approx(-0.15)
    table = np.array([[60, 40], [45, 55]])
    chi = sps.chi2_contingency(table, correction=False)
    assert z.p_value == pytest.approx(chi.pvalue, rel=1e-9)  # pooled z^2 is Pearson's chi2
    boot = compare(a, b, method="bootstrap")
    assert boot.ci_low < boot.effect < boot.ci_high


def test_planned_n_matches_the_textbook() -> None:
    assert planned_n(0.5, 0.10) == 388  # Fleiss, two-sided 5%, 80% power


def test_assignment_is_deterministic_and_balanced() -> None:
    arms = ["control", "treat"]
    picks = [assign("t1", "exp1", f"s{i}", arms) for i in range(4000)]
    assert picks == [assign("t1", "exp1", f"s{i}", arms) for i in range(4000)]
    assert abs(picks.count("treat") / 4000 - 0.5) < 0.03
    other = [assign("t1", "exp2", f"s{i}", arms) for i in range(4000)]
    assert 0.4 < np.mean([x == y for x, y in zip(picks, other, strict=True)]) < 0.6


def _write(path: Path, rows) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "arm", "outcome"])
        w.writerows(rows)
    return path


def test_cli_analyze_two_arms_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = [(f"c{i}", "control", int(rng.random() < 0.5)) for i in range(400)]
    rows += [(f"t{i}", "treatment", int(rng.random() < 0.65)) for i in range(400)]
    res = CliRunner().invoke(
        main, ["experiment", "analyze", "--data", str(_write(tmp_path / "o.csv", rows)),
               "--format", "json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["ci_low"] < out["effect"] < out["ci_high"]
    assert out["ci_low"] > 0 and out["p_value"] < 0.001 and out["method"] == "two_proportion_z"
    assert out["students"] == {"control": 400, "treatment": 400}


def test_cli_analyze_reports_bad_rows_and_fails_above_the_share(tmp_path: Path) -> None:
    rows = [(f"s{i}", "a" if i % 2 else "b", i % 3) for i in range(20)]
    rows[4] = ("s4", "a", "lots")
    args = ["experiment", "analyze", "--format", "json", "--data"]
    res = CliRunner().invoke(main, [*args, str(_write(tmp_path / "o.csv", rows))])
    assert res.exit_code == 0, res.output  # 1 of 20 (5%) is within the share: reported
    assert json.loads(res.stdout)["bad_rows"] == [
        {"line": 6, "reason": "'outcome' must be a number"}
    ]
    rows[7] = ("", "b", 1)
    res = CliRunner().invoke(main, [*args, str(_write(tmp_path / "o.csv", rows))])
    assert res.exit_code != 0
    assert "o.csv:6: 'outcome' must be a number" in res.output
    assert "o.csv:9: empty student_id or arm" in res.output
