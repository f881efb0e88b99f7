"""Benchmark the BKT mastery estimator against pyBKT on ASSISTments (as_supersmall.csv).

    python evals/bench_mastery.py [--seed 42] [--splits 1] [--skip-pybkt] [--pybkt-parallel]

Split by user 80/20 (fixed seed), fit on train, AUC/RMSE of next-response prediction on
test (test rows restricted to skills seen in training, for both models). pyBKT from PyPI
needs numpy<2 and scikit-learn<1.6, so it runs in its own virtual environment
(~/.cache/readloom-bench/pybkt-venv, created on first use; the project venv is never
touched) through a subprocess on the same split files. pyBKT runs with parallel=False by
default: on this machine its multiprocessing pool (re-created every EM iteration) makes
its default parallel=True about 5x slower, so the serial run is the fairer baseline.
``--splits K`` repeats the comparison on seeds seed..seed+K-1 (one test split is small).
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

from readloom.settings import Settings
from readloom.tools.mastery_cli import evaluate_command, fit_command, metrics
from readloom.tools.mastery_data import load_responses, write_responses
from readloom.tools.mastery_model import BKTParams, update

VENV = Path.home() / ".cache" / "readloom-bench" / "pybkt-venv"
PYBKT_REQUIREMENTS = ["numpy<2", "scikit-learn<1.6", "pyBKT"]

PYBKT_RUNNER = """
import json, sys, time
from importlib import metadata


def run():
    train, test, out, seed, parallel, num_fits = sys.argv[1:7]
    from pyBKT.models import Model

    model = Model(seed=int(seed), num_fits=int(num_fits), parallel=parallel == "1")
    started = time.perf_counter()
    model.fit(data_path=train)
    fit_seconds = time.perf_counter() - started
    df = model.predict(data_path=test)
    rows = [
        [str(u), str(s), float(o), float(p)]
        for u, s, o, p in zip(df["user_id"], df["skill_name"], df["order_id"], df["correct_predictions"])
    ]
    with open(out, "w") as fh:
        json.dump({"fit_seconds": fit_seconds, "version": metadata.version("pyBKT"),
                   "predictions": rows}, fh)


if __name__ == "__main__":  # pyBKT's multiprocessing pool needs the guard
    run()
"""


def split_by_user(csv_path: Path, workdir: Path, seed: int) -> dict[str, object]:
    data = load_responses(csv_path)
    users = np.unique(data.user)
    rng = np.random.default_rng(seed)
    test_users = rng.choice(users, size=round(0.2 * len(users)), replace=False)
    is_test = np.isin(data.user, test_users)
    train, test = data.subset(~is_test), data.subset(is_test)
    seen = np.isin(test.skill, np.unique(train.skill))
    write_responses(workdir / "train.csv", train)
    write_responses(workdir / "test.csv", test.subset(seen))
    return {
        "rows_after_dedup": len(data),
        "duplicates_dropped": data.duplicates_dropped,
        "train_rows": len(train),
        "test_rows": int(seen.sum()),
        "test_rows_unseen_skill_dropped": int((~seen).sum()),
        "train_users": len(users) - len(test_users),
        "test_users": len(test_users),
    }


def run_ours(workdir: Path, repeats: int) -> dict[str, object]:
    model = workdir / "readloom_model.json"
    fits = [fit_command(workdir / "train.csv", model) for _ in range(repeats)]
    scores = evaluate_command(model, workdir / "test.csv")
    return {
        "fit": fits[0],
        "fit_seconds_runs": [f["fit_seconds"] for f in fits],
        "fit_seconds_median": statistics.median(f["fit_seconds"] for f in fits),
        **scores,
    }


def run_whole_command(workdir: Path) -> dict[str, object]:
    """Wall time of the whole fit command (interpreter start, imports, CSV, EM, save)."""
    py = sys.executable
    probe = [py, "-m", "readloom.cli", "mastery", "fit", "--help"]
    has_cli = subprocess.run(probe, capture_output=True, check=False).returncode == 0
    out = workdir / "cli_model.json"
    train = workdir / "train.csv"
    if has_cli:
        cmd = [py, "-m", "readloom.cli", "mastery", "fit", "--data", str(train), "--out", str(out)]
        how = "python -m readloom.cli mastery fit"
    else:
        code = (
            "import json, sys; from pathlib import Path; "
            "from readloom.tools.mastery_cli import fit_command; "
            "print(json.dumps(fit_command(Path(sys.argv[1]), Path(sys.argv[2]))))"
        )
        cmd = [py, "-c", code, str(train), str(out)]
        how = "fit_command in a fresh interpreter (readloom.cli has no 'mastery fit' yet)"
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"how": how, "error": done.stderr[-500:]}
    return {"how": how, "wall_seconds": round(wall, 3)}


def ensure_pybkt_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import pyBKT"], capture_output=True, check=False)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PYBKT_REQUIREMENTS],
            check=True,
            capture_output=True,
            text=True,
        )
    return python


def run_pybkt(workdir: Path, seed: int, parallel: bool, num_fits: int) -> dict[str, object]:
    try:
        python = ensure_pybkt_venv()
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "")[-800:] if isinstance(exc.stderr, str) else ""
        return {"error": f"could not install pyBKT in {VENV}: {tail or exc}"}
    runner = workdir / "pybkt_runner.py"
    runner.write_text(PYBKT_RUNNER, encoding="utf-8")
    out = workdir / "pybkt_out.json"
    args = [str(workdir / "train.csv"), str(workdir / "test.csv"), str(out), str(seed)]
    done = subprocess.run(
        [str(python), str(runner), *args, "1" if parallel else "0", str(num_fits)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        return {"error": done.stderr[-800:]}
    result = json.loads(out.read_text())
    test = load_responses(workdir / "test.csv")
    key = {
        (test.users[u], test.skills[s], float(o)): i
        for i, (u, s, o) in enumerate(zip(test.user, test.skill, test.order, strict=True))
    }
    pred = np.full(len(test), np.nan)
    for user, skill, order, p in result["predictions"]:
        pred[key[(user, skill, order)]] = p
    if np.isnan(pred).any():
        return {"error": f"pyBKT returned no prediction for {int(np.isnan(pred).sum())} rows"}
    return {
        "version": result["version"],
        "parallel": parallel,
        "num_fits": num_fits,
        "fit_seconds": round(result["fit_seconds"], 3),
        **metrics(test.correct, pred),
    }


def time_update() -> dict[str, float]:
    params = BKTParams(prior=0.3, learn=0.15, guess=0.2, slip=0.1)
    number = 100_000
    runs = timeit.repeat(
        "update(0.42, 1, params); update(0.42, 0, params)",
        globals={"update": update, "params": params},
        number=number,
        repeat=7,
    )
    return {"update_median_us": round(statistics.median(runs) / (2 * number) * 1e6, 3)}


def time_store_record(workdir: Path) -> dict[str, float]:
    from readloom.tools.mastery import MasteryStore

    store = MasteryStore(Settings(home=workdir / "home"))
    times = []
    for i in range(50):
        started = time.perf_counter()
        store.record("bench-student", "central_idea", i % 2)
        times.append(time.perf_counter() - started)
    store.close()
    return {"store_record_median_ms": round(statistics.median(times) * 1e3, 3)}


def compare_once(csv_path: Path, workdir: Path, seed: int, args: argparse.Namespace) -> dict:
    report: dict[str, object] = {"seed": seed}
    report["split"] = split_by_user(csv_path, workdir, seed)
    report["readloom"] = ours = run_ours(workdir, args.repeats)
    if args.skip_pybkt:
        report["pybkt"] = pybkt = {"skipped": True}
    else:
        pybkt = run_pybkt(workdir, seed, args.pybkt_parallel, args.pybkt_num_fits)
        report["pybkt"] = pybkt
    if "fit_seconds" in pybkt:
        report["auc_minus_pybkt"] = round(ours["auc"] - pybkt["auc"], 5)
        speedup = pybkt["fit_seconds"] / ours["fit_seconds_median"]
        report["fit_speedup_vs_pybkt"] = round(speedup, 1)
    return report


def summarize_splits(runs: list[dict]) -> dict[str, object]:
    out: dict[str, object] = {
        "seeds": [r["seed"] for r in runs],
        "readloom_auc": [r["readloom"]["auc"] for r in runs],
        "pybkt_auc": [r["pybkt"].get("auc") for r in runs],
        "readloom_auc_mean": round(statistics.mean(r["readloom"]["auc"] for r in runs), 5),
        "readloom_rmse_mean": round(statistics.mean(r["readloom"]["rmse"] for r in runs), 5),
    }
    if all("auc" in r["pybkt"] for r in runs):
        out["pybkt_auc_mean"] = round(statistics.mean(r["pybkt"]["auc"] for r in runs), 5)
        out["pybkt_rmse_mean"] = round(statistics.mean(r["pybkt"]["rmse"] for r in runs), 5)
        out["fit_speedup"] = [r["fit_speedup_vs_pybkt"] for r in runs]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--splits", type=int, default=1, help="seeds seed..seed+K-1")
    parser.add_argument("--repeats", type=int, default=3, help="fits of our model to time")
    parser.add_argument("--skip-pybkt", action="store_true")
    parser.add_argument("--pybkt-parallel", action="store_true", help="pyBKT parallel=True")
    parser.add_argument("--pybkt-num-fits", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    csv_path = Settings().data_path / "assistments_kt" / "as_supersmall.csv"
    with tempfile.TemporaryDirectory(prefix="readloom-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        first = compare_once(csv_path, workdir, args.seed, args)
        report: dict[str, object] = {"data": str(csv_path), **first}
        report["readloom_command"] = whole = run_whole_command(workdir)
        report["online"] = online = time_update() | time_store_record(workdir)
        ours, pybkt = first["readloom"], first["pybkt"]
        if "fit_seconds" in pybkt:
            report["goals"] = {
                "auc_at_least_pybkt": ours["auc"] >= pybkt["auc"],
                "fit_at_least_20x_faster": first["fit_speedup_vs_pybkt"] >= 20,
                "whole_command_faster_than_pybkt_fit": whole.get("wall_seconds", float("inf"))
                < pybkt["fit_seconds"],
                "update_under_50us": online["update_median_us"] < 50,
            }
        if args.splits > 1:
            more = [
                compare_once(csv_path, workdir, args.seed + i, args) for i in range(1, args.splits)
            ]
            report["splits"] = summarize_splits([first, *more])
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
