"""Threshold verdicts, regression against a baseline, and the summary's exit code."""

from __future__ import annotations

import json

import pytest
from evalkit.model import Metric, Threshold
from evalkit.thresholds import (
    ConfigError,
    judge_suite,
    load_baseline,
    load_thresholds,
    summarize,
)

HIGH = Threshold(threshold=0.9, direction="higher", tolerance=0.02)
LOW = Threshold(threshold=0.0, direction="lower", tolerance=0.0)


def _row(metrics, thresholds, baseline=None, **kw):
    return {r.name: r for r in judge_suite("s", metrics, thresholds, baseline, **kw)}


@pytest.mark.parametrize(
    ("value", "threshold", "status"),
    [(0.95, HIGH, "pass"), (0.9, HIGH, "pass"), (0.89, HIGH, "fail"),
     (0.0, LOW, "pass"), (0.01, LOW, "fail")],
)  # fmt: skip
def test_threshold_direction(value, threshold, status):
    rows = _row([Metric(name="m", value=value)], {"m": threshold})
    assert rows["m"].status == status


def test_regression_beyond_tolerance_is_flagged_and_within_is_not():
    t = {"a": HIGH, "b": HIGH, "c": LOW}
    metrics = [
        Metric(name="a", value=0.95),
        Metric(name="b", value=0.97),
        Metric(name="c", value=0.0),
    ]
    baseline = {"s.a": 0.99, "s.b": 0.98, "s.c": 0.0}
    rows = _row(metrics, t, baseline)
    assert rows["a"].regressed and rows["a"].status == "pass"  # passes threshold, still regressed
    assert rows["a"].delta == pytest.approx(-0.04)
    assert not rows["b"].regressed  # 0.01 worse, tolerance 0.02
    assert not rows["c"].regressed and rows["c"].delta == 0


def test_improvement_is_never_a_regression():
    rows = _row([Metric(name="c", value=0.0)], {"c": LOW}, {"s.c": 0.2})
    assert not rows["c"].regressed and rows["c"].delta == pytest.approx(-0.2)


def test_regressions_not_gated_when_baseline_is_not_comparable():
    rows = _row([Metric(name="a", value=0.5)], {"a": HIGH}, {"s.a": 0.99}, gate_regressions=False)
    assert rows["a"].delta == pytest.approx(-0.49) and not rows["a"].regressed


def test_metric_without_threshold_is_informational_and_skipped_is_not_a_failure():
    rows = _row(
        [Metric(name="x", value=3.0), Metric(name="judge", value=None, skipped="no key")],
        {"judge": HIGH},
    )
    assert rows["x"].status == "info"
    assert rows["judge"].status == "skipped" and rows["judge"].note == "no key"
    assert summarize(list(rows.values()), 0).exit_code == 0


def test_thresholded_metric_that_is_not_produced_fails():
    rows = _row([], {"recall": HIGH})
    assert rows["recall"].status == "missing"
    assert summarize(list(rows.values()), 0).exit_code == 1


def test_crashed_suite_marks_its_metrics_error():
    rows = _row([], {"recall": HIGH}, errored=True)
    assert rows["recall"].status == "error"
    summary = summarize(list(rows.values()), 1)
    assert summary.exit_code == 1 and summary.suite_errors == 1


def test_summary_counts():
    rows = list(_row(
        [Metric(name="p", value=1.0), Metric(name="f", value=0.1), Metric(name="r", value=0.91)],
        {"p": HIGH, "f": HIGH, "r": HIGH}, {"s.r": 0.99},
    ).values())  # fmt: skip
    s = summarize(rows, 0)
    assert (s.passed, s.failed, s.regressed, s.exit_code) == (2, 1, 1, 1)


def test_load_thresholds_validates(tmp_path):
    good = tmp_path / "t.yaml"
    good.write_text(
        "version: 3\nsuites:\n  pii:\n    recall: {threshold: 0.8, direction: higher}\n"
    )
    loaded = load_thresholds(good)
    assert loaded.version == 3 and loaded.suites["pii"]["recall"].tolerance == 0.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsuites:\n  pii:\n    recall: {threshold: 0.8, direction: up}\n")
    with pytest.raises(ConfigError):
        load_thresholds(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("version: 1\nsuites:\n  pii:\n    recall: {treshold: 0.8, direction: higher}\n")
    with pytest.raises(ConfigError):
        load_thresholds(typo)


def test_load_baseline_reads_a_report_and_rejects_other_json(tmp_path):
    report = {
        "provenance": {"providers": ["offline"], "git_commit": "abc"},
        "metrics": [{"suite": "pii", "name": "recall", "value": 0.9},
                    {"suite": "tutor", "name": "judge", "value": None}],
    }  # fmt: skip
    path = tmp_path / "b.json"
    path.write_text(json.dumps(report))
    base = load_baseline(path)
    assert base.values == {"pii.recall": 0.9} and base.providers == ["offline"]
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(ConfigError):
        load_baseline(other)


def test_shipped_thresholds_file_is_valid():
    from harness import THRESHOLDS_PATH, available_suites

    loaded = load_thresholds(THRESHOLDS_PATH)
    assert set(loaded.suites) <= set(available_suites())
    assert loaded.suites["tutor"]["answer_leak_rate"].threshold == 0.0
    assert loaded.suites["questions"]["answerability"].threshold == 1.0


def test_open_goal_is_reported_but_does_not_fail_and_a_met_one_passes():
    goal = Threshold(threshold=0.05, direction="lower", open_issue=18)
    rows = _row([Metric(name="missed", value=0.06), Metric(name="met", value=0.04)],
                {"missed": goal, "met": goal})  # fmt: skip
    assert rows["missed"].status == "open"
    assert "issue 18" in rows["missed"].note
    assert rows["met"].status == "pass"
    s = summarize(list(rows.values()), 0)
    assert (s.open, s.failed, s.passed, s.exit_code) == (1, 0, 1, 0)


def test_open_goal_still_fails_the_run_when_it_regresses():
    goal = Threshold(threshold=0.05, direction="lower", open_issue=18)
    rows = _row([Metric(name="m", value=0.09)], {"m": goal}, baseline={"s.m": 0.06})
    assert rows["m"].status == "open" and rows["m"].regressed
    assert summarize(list(rows.values()), 0).exit_code == 1
