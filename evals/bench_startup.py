"""Start-up benchmark: wall time of ``readloom`` commands, each a fresh process.

    .venv/bin/python evals/bench_startup.py [--runs 3] [--passage kofi-and-the-big-puddle]

Medians of ``--runs`` runs per command, as a user runs them (the installed entry point,
the default settings: offline tier without keys). "cold" is a fresh ``READLOOM_HOME``
(first start: the shipped corpus is ingested), "warm" one that has been used. The OS
file cache is warm in both (dropping it needs root). Each command also reports the median
CPU time (user + sys) of its process, steadier than wall time on a busy machine, and the
load average before and after. Prints JSON.

Goals (issue 17): ``--help``, ``passages`` and any argument error <= 1 s;
``questions --count 5`` <= 8 s cold, <= 4 s warm.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READLOOM = Path(sys.executable).with_name("readloom")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def once(args: list[str], home: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + sys) and exit code of one run."""
    env = {**os.environ, "READLOOM_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [str(READLOOM), *args], env=env, capture_output=True, timeout=600, check=False
    )
    return time.perf_counter() - start, _children_cpu() - cpu, done.returncode


def median_of(runs: int, args: list[str], home: Path | None = None, *, fresh: bool = False):
    times, cpus, codes = [], [], set()
    for _ in range(runs):
        where = Path(tempfile.mkdtemp(prefix="readloom-startup-")) if fresh or not home else home
        took, cpu, code = once(args, where)
        times.append(took)
        cpus.append(cpu)
        codes.add(code)
        if fresh:
            shutil.rmtree(where, ignore_errors=True)
    return {"median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times],
            "median_cpu_s": round(statistics.median(cpus), 2), "exit_codes": sorted(codes)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--passage", default="kofi-and-the-big-puddle")
    args = ap.parse_args()
    n = args.runs
    questions = ["questions", "--passage-id", args.passage, "--count", "5"]
    warm_home = Path(tempfile.mkdtemp(prefix="readloom-startup-warm-"))
    report: dict = {"load_average_before": os.getloadavg()}
    start = time.perf_counter()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    report["python_-c_pass"] = {"median_s": round(statistics.median(times), 2)}
    report["--help"] = median_of(n, ["--help"], fresh=True)
    report["passages (fresh home)"] = median_of(n, ["passages"], fresh=True)
    report["questions, no passage given"] = median_of(n, ["questions"], fresh=True)
    report["questions, unknown passage id"] = median_of(
        n, ["questions", "--passage-id", "no-such-passage"], fresh=True
    )
    report["questions --count 5 (cold)"] = median_of(n, questions, fresh=True)
    once(questions, warm_home)  # the home is now in use
    report["questions --count 5 (warm)"] = median_of(n, questions, warm_home)
    report["passages (catalogued home)"] = median_of(n, ["passages"], warm_home)
    report["questions, unknown passage id (catalogued home)"] = median_of(
        n, ["questions", "--passage-id", "no-such-passage"], warm_home
    )
    shutil.rmtree(warm_home, ignore_errors=True)
    fast = [k for k in report if k.startswith(("--help", "passages", "questions, "))]
    report["goals"] = {
        "fast_commands<=1s": all(report[k]["median_s"] <= 1.0 for k in fast),
        "questions_cold<=8s": report["questions --count 5 (cold)"]["median_s"] <= 8.0,
        "questions_warm<=4s": report["questions --count 5 (warm)"]["median_s"] <= 4.0,
    }
    report["bench_seconds"] = round(time.perf_counter() - start, 1)
    report["load_average"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
