"""Refits: a worse model is never promoted; a good one is, and rollback restores the old."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bkt_sim import simulate, write_csv
from click.testing import CliRunner

from readloom.cli import main
from readloom.mlops.mastery_ops import refit
from readloom.mlops.registry import Registry
from readloom.settings import get_settings
from readloom.tools.mastery import MasteryStore
from readloom.tools.mastery_model import BKTModel


def _store_with_app_attempts(settings, n_students: int = 60) -> MasteryStore:
    store = MasteryStore(settings)
    for u, s, c, _ in simulate(n_students, 6, seed=99):
        store.record(u, s, c)
    return store


@pytest.fixture
def clean_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "clean.csv", simulate(300, 8, seed=1))


def test_corrupted_refit_is_not_promoted_and_clean_one_is(tmp_path: Path, clean_csv) -> None:
    settings = get_settings()
    store = _store_with_app_attempts(settings)
    registry = Registry(settings)
    first = refit(settings, store=store, csvs=[clean_csv], registry=registry)
    assert first["promoted"] and first["stage"] == "production"
    home_model = BKTModel.load(settings.home / "mastery_model.json")
    assert home_model.info["registry_version"] == first["version"]

    # labels flipped on every imported row: the app's own attempts are the yardstick
    corrupt = write_csv(tmp_path / "corrupt.csv", simulate(300, 8, seed=2), flip=True)
    bad = refit(settings, store=store, csvs=[corrupt], registry=registry)
    assert not bad["promoted"], bad
    assert bad["candidate"]["auc"] < bad["production"]["auc"] - settings.refit_tolerance
    assert registry.production("mastery").version == first["version"]
    assert registry.get("mastery", bad["version"]).stage == "archived"
    # the served parameters did not change
    assert (
        BKTModel.load(settings.home / "mastery_model.json").info["registry_version"]
        == first["version"]
    )

    fresh = write_csv(tmp_path / "fresh.csv", simulate(300, 8, seed=3))
    good = refit(settings, store=store, csvs=[fresh], registry=registry)
    assert good["promoted"], good
    assert registry.rollback("mastery").version == first["version"]
    assert registry.get("mastery", good["version"]).stage == "archived"
    store.close()


def test_pure_noise_without_app_data_is_rejected_by_the_floor(tmp_path: Path) -> None:
    settings = get_settings()
    noise = write_csv(tmp_path / "noise.csv", simulate(300, 8, seed=4), noise=1.0)
    out = refit(settings, csvs=[noise])
    assert not out["promoted"] and "floor" in out["reason"]
    assert Registry(settings).production("mastery") is None


def test_cli_refit_list_json_and_trace(tmp_path: Path, clean_csv) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["mastery", "refit", "--data", str(clean_csv), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["promoted"]
    res = runner.invoke(main, ["models", "list", "--format", "json"])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.output)
    assert {m["name"] for m in listed} == {"mastery", "injection", "readability"}
    for m in listed:
        assert set(m) >= {"name", "version", "stage", "data_sha256", "code_commit", "metrics"}
        assert m["stage"] in ("production", "candidate", "archived")
    mastery = next(m for m in listed if m["name"] == "mastery")
    assert mastery["data_sha256"] == out["data_sha256"]
    res = runner.invoke(main, ["models", "trace", f"mastery@v{out['version']}", "--format", "json"])
    assert res.exit_code == 0, res.output
    (line,) = json.loads(res.output)["models"]
    assert line["data_sha256"] == out["data_sha256"] and line["code_commit"]
    res = runner.invoke(main, ["models", "rollback", "mastery"])
    assert res.exit_code != 0 and "no earlier production version" in res.output
    res = runner.invoke(main, ["models", "promote", "injection@v1"])
    assert res.exit_code != 0 and "ships inside the package" in res.output
