"""The runner end to end on tiny synthetic suites: report files, exit codes, baselines."""

from __future__ import annotations

import json

import pytest
from evalkit.model import SuiteOutput
from harness import run_eval

THRESHOLDS = """
version: 7
suites:
  alpha:
    accuracy: {threshold: 0.8, direction: higher, tolerance: 0.05}
    leak_rate: {threshold: 0.0, direction: lower}
  beta:
    judge_score: {threshold: 3.5, direction: higher}
"""


def _suites(accuracy=0.9, leak=0.0, crash=False):
    def alpha(ctx):
        out = SuiteOutput(notes=["synthetic"])
        out.add("accuracy", accuracy, n=10)
        out.add("leak_rate", leak, n=10)
        out.add("latency_ms", 12.5)
        out.models["offline/rules"] = 10
        return out

    def beta(ctx):
        if crash:
            raise RuntimeError("boom")
        out = SuiteOutput()
        out.skip("judge_score", "no provider key")
        out.details["judge"] = {"skipped": "no provider key"}
        return out

    return {"alpha": alpha, "beta": beta}


@pytest.fixture
def thresholds(tmp_path):
    path = tmp_path / "thresholds.yaml"
    path.write_text(THRESHOLDS)
    return path


def _run(
    tmp_path, thresholds, name="r.json", baseline=None, suites=None, providers="offline", **kw
):
    messages: list[str] = []
    code = run_eval(
        suites, providers, tmp_path / name, baseline, thresholds_path=thresholds,
        registry=_suites(**kw), echo=messages.append,
    )  # fmt: skip
    return code, messages


def test_passing_run_writes_json_and_markdown(tmp_path, thresholds):
    code, messages = _run(tmp_path, thresholds)
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["schema"] == "readloom-eval-report/1"
    assert report["summary"]["exit_code"] == 0
    rows = {f"{r['suite']}.{r['name']}": r for r in report["metrics"]}
    assert rows["alpha.accuracy"]["value"] == 0.9 and rows["alpha.accuracy"]["status"] == "pass"
    assert rows["alpha.accuracy"]["threshold"] == 0.8 and rows["alpha.accuracy"]["n"] == 10
    assert rows["alpha.latency_ms"]["status"] == "info"
    assert rows["beta.judge_score"]["status"] == "skipped"
    prov = report["provenance"]
    assert prov["providers"] == ["offline"] and prov["thresholds"]["version"] == 7
    assert len(prov["thresholds"]["sha256"]) == 64
    assert prov["models_observed"] == {"offline/rules": 10}
    assert prov["judge"] == {"skipped": "no provider key"}
    assert "git_commit" in prov and prov["prompts"]["judge"].startswith("judge@v")
    assert report["suites"]["alpha"]["notes"] == ["synthetic"]
    md = (tmp_path / "r.md").read_text()
    assert md.startswith("# readloom eval report") and "**PASS** (exit 0)" in md
    assert "| alpha | accuracy | 0.9 | 10 | ≥ 0.8 (tol 0.05) | pass |" in md
    assert "judge: skipped (no provider key)" in md
    assert any("PASS" in m for m in messages)


def test_failing_threshold_exits_1(tmp_path, thresholds):
    code, messages = _run(tmp_path, thresholds, leak=0.02)
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    row = next(r for r in report["metrics"] if r["name"] == "leak_rate")
    assert row["status"] == "fail"
    assert any("fail: alpha.leak_rate" in m for m in messages)
    assert "**FAIL** (exit 1)" in (tmp_path / "r.md").read_text()


def test_regression_against_baseline_exits_1_within_tolerance_exits_0(tmp_path, thresholds):
    assert _run(tmp_path, thresholds, name="base.json", accuracy=0.95)[0] == 0
    base = tmp_path / "base.json"
    assert _run(tmp_path, thresholds, name="ok.json", baseline=base, accuracy=0.91)[0] == 0
    code, _ = _run(tmp_path, thresholds, name="bad.json", baseline=base, accuracy=0.85)
    assert code == 1  # 0.85 passes the 0.8 threshold but is 0.10 below the baseline
    report = json.loads((tmp_path / "bad.json").read_text())
    row = next(r for r in report["metrics"] if r["name"] == "accuracy")
    assert row["status"] == "pass" and row["regressed"] and row["delta"] == pytest.approx(-0.1)
    assert report["provenance"]["baseline"]["gated"] is True
    assert "regressed" in (tmp_path / "bad.md").read_text()


def test_baseline_from_other_providers_shows_deltas_without_gating(tmp_path, thresholds):
    _run(tmp_path, thresholds, name="base.json", accuracy=0.99)
    base = json.loads((tmp_path / "base.json").read_text())
    base["provenance"]["effective_providers"] = ["openai", "offline"]
    (tmp_path / "base.json").write_text(json.dumps(base))
    code, _ = _run(
        tmp_path, thresholds, name="x.json", baseline=tmp_path / "base.json", accuracy=0.85
    )
    assert code == 0
    report = json.loads((tmp_path / "x.json").read_text())
    assert report["provenance"]["baseline"]["gated"] is False
    assert report["provenance"]["baseline"]["not_gated_suites"] == ["alpha", "beta"]
    row = next(r for r in report["metrics"] if r["name"] == "accuracy")
    assert row["delta"] == pytest.approx(-0.14) and not row["regressed"]


def test_crashing_suite_exits_1_and_others_still_report(tmp_path, thresholds):
    code, _ = _run(tmp_path, thresholds, crash=True)
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["suites"]["beta"]["status"] == "error"
    assert "RuntimeError: boom" in report["suites"]["beta"]["error"]
    assert report["suites"]["alpha"]["status"] == "ok"
    assert next(r for r in report["metrics"] if r["name"] == "judge_score")["status"] == "error"


def test_suite_selection_only_judges_the_chosen_suites(tmp_path, thresholds):
    code, _ = _run(tmp_path, thresholds, suites=["beta"], leak=1.0)
    assert code == 0  # alpha (failing) did not run
    report = json.loads((tmp_path / "r.json").read_text())
    assert list(report["suites"]) == ["beta"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"suites": ["nope"]}, "unknown suite"), ({"providers": "offline,openai"}, "provider")],
)
def test_usage_errors_exit_2(tmp_path, thresholds, kwargs, message):
    code, messages = _run(tmp_path, thresholds, **kwargs)
    assert code == 2 and message in messages[0]
    assert not (tmp_path / "r.json").exists()


def test_unusable_thresholds_or_baseline_exit_2(tmp_path, thresholds):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [\n")
    assert run_eval(None, "offline", tmp_path / "a.json", thresholds_path=broken,
                    registry=_suites(), echo=lambda m: None) == 2  # fmt: skip
    not_report = tmp_path / "nr.json"
    not_report.write_text("[]")
    code, messages = _run(tmp_path, thresholds, baseline=not_report)
    assert code == 2 and "baseline" in messages[0]


def test_provider_option_sets_the_chain_for_the_run(tmp_path, thresholds):
    seen = {}

    def probe(ctx):
        seen["providers"] = list(ctx.settings.providers)
        seen["home"] = ctx.settings.home
        return SuiteOutput()

    code = run_eval(None, "anthropic,offline", tmp_path / "p.json", thresholds_path=thresholds,
                    registry={"probe": probe}, echo=lambda m: None)  # fmt: skip
    assert code == 0 and seen["providers"] == ["anthropic", "offline"]
    assert not seen["home"].exists()  # a throwaway READLOOM_HOME, removed after the run


def test_baseline_on_other_data_is_not_gated_for_that_suite(tmp_path, thresholds):
    from evalkit.model import DatasetRef

    def suites(accuracy, sha):
        def alpha(ctx):
            out = SuiteOutput()
            out.datasets.append(DatasetRef(name="d", path="/x", sha256=sha))
            out.add("accuracy", accuracy)
            out.add("leak_rate", 0.0)
            return out

        return {"alpha": alpha}

    def run(name, accuracy, sha, baseline=None):
        return run_eval(None, "offline", tmp_path / name, baseline, thresholds_path=thresholds,
                        registry=suites(accuracy, sha), echo=lambda m: None)  # fmt: skip

    assert run("base.json", 0.99, "a" * 64) == 0
    assert run("same.json", 0.85, "a" * 64, tmp_path / "base.json") == 1  # same data: gated
    assert run("other.json", 0.85, "b" * 64, tmp_path / "base.json") == 0  # other data: shown
    report = json.loads((tmp_path / "other.json").read_text())
    assert report["provenance"]["baseline"]["not_gated_suites"] == ["alpha"]
    row = next(r for r in report["metrics"] if r["name"] == "accuracy")
    assert row["delta"] == pytest.approx(-0.14) and not row["regressed"]


def test_suites_may_be_comma_separated(tmp_path, thresholds):
    code, _ = _run(tmp_path, thresholds, suites=["alpha,beta"])
    assert code == 0
    assert list(json.loads((tmp_path / "r.json").read_text())["suites"]) == ["alpha", "beta"]
