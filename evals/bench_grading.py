"""Grading speed: one response as in a tutoring turn, and ``readloom grade`` on a file.

    python evals/bench_grading.py [--responses 1000]

1. Per response (offline grader, the tutor's path): a session's passage and key are seen
   before the child answers, so each response costs one embedding and a light parse.
   Reports p50/p95 ms over FairytaleQA *train* items (goal: p95 <= 30 ms), wall and CPU.
2. ``readloom grade --data FILE.jsonl --format json`` on N responses (goal: 1,000 in
   <= 60 s on the 2-core machine), wall time of the real command in a subprocess, on the
   defaults a user gets (a fresh READLOOM_HOME in a temp folder), with its CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evalkit.grading_bench import build_items  # noqa: E402

from readloom.settings import Settings, configure_offline_environment  # noqa: E402


def per_response(items: list, n: int) -> dict[str, float]:
    from readloom.llm.offline.grading import OfflineGrader

    grader = OfflineGrader()
    # annotator-2 answers: texts the warm-up never embeds (another question's answer is
    # some question's key, already embedded, so it would time a cache hit)
    sample = [i for i in items if i.kind == "second_annotator" and i.response != i.key][:n]
    for it in sample:  # the session has seen its passage and its question's key
        grader.grade("warm", question=it.question, key=it.key, passage=it.passage)
    times, cpu = [], []
    for it in sample:
        t0, c0 = time.perf_counter(), time.process_time()
        grader.grade(it.response, question=it.question, key=it.key, passage=it.passage)
        cpu.append((time.process_time() - c0) * 1000)
        times.append((time.perf_counter() - t0) * 1000)
    return {"n": len(times), **_percentiles("", times), **_percentiles("cpu_", cpu)}


def _percentiles(prefix: str, values: list[float]) -> dict[str, float]:
    """p50/p95 in ms; CPU time beside wall time, since wall time on a shared machine
    mostly measures the other processes."""
    v = sorted(values)
    return {f"{prefix}p50_ms": round(v[len(v) // 2], 2),
            f"{prefix}p95_ms": round(v[int(0.95 * (len(v) - 1))], 2)}  # fmt: skip


def bulk(items: list, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        data = Path(home) / "responses.jsonl"
        with data.open("w", encoding="utf-8") as fh:
            for it in (items * (n // max(1, len(items)) + 1))[:n]:
                row = {"passage": it.passage, "question": it.question, "answer": it.key,
                       "response": it.response}  # fmt: skip
                fh.write(json.dumps(row) + "\n")
        env = os.environ | {"READLOOM_HOME": home, "HF_HUB_OFFLINE": "1"}
        exe = Path(sys.executable).with_name("readloom")
        t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(
            [str(exe), "grade", "--data", str(data), "--format", "json"],
            env=env, capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = proc.stdout.strip().splitlines()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"responses": n, "lines_out": len(lines), "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--responses", type=int, default=1000)
    ap.add_argument("--per-response", type=int, default=500)
    args = ap.parse_args()
    configure_offline_environment()
    items = build_items(Path(Settings().data_path), ("train",))
    result = {"per_response": per_response(items, args.per_response)}
    if args.responses:
        result["readloom_grade"] = bulk(items, args.responses)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
