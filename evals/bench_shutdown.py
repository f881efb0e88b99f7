"""Shutdown benchmark: N randomised runs of "a real ``readloom serve`` takes a random mix of
requests, some still in flight, then gets SIGTERM (or SIGINT)", on one home and database.

    python evals/bench_shutdown.py --runs 100 [--grace 10] [--database-url postgresql://…]

Every run draws which requests come before the signal and in what order (tutoring turns
plain and streamed, a client holding a stream open, questions from text, question jobs,
passage ingest good/refused/blank, alert acknowledgements, classes, webhook events with a
receiver that answers too late, LTI launches), which are still running when it comes and
how long after. Reports how many runs exited within grace + 5 s (the goal: all), how many
needed the exit watchdog, the median and worst exit time, and any database inconsistency
(an acknowledged job, turn or delivery lost, a delivery marked sent that never arrived, a
lease left behind). Each run starts a server (models load every time), so a run takes
about half a minute: use a smaller ``--runs`` on a busy machine and say so.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "api"))

from shutdown_support import ACTIONS, SlowReceiver, check_consistent, run_in_flight, started  # noqa: E402

IN_FLIGHT = ("sse_hold", "turn", "sse_turn", "question_job", "alert_ack", "questions_text", "ingest_good", "lti_launch")  # fmt: skip


def one_run(
    home: Path, rng: random.Random, args: argparse.Namespace, receiver: SlowReceiver
) -> dict:
    before = rng.sample(sorted(ACTIONS), k=rng.randint(0, len(ACTIONS)))
    during = rng.sample(IN_FLIGHT, k=rng.randint(0, 4))
    pause = rng.uniform(0.0, 1.5)
    sig = signal.SIGTERM if rng.random() < 0.8 else signal.SIGINT
    bound = args.grace + 5.0
    log_path = home / "server.log"
    offset = log_path.stat().st_size if log_path.exists() else 0  # one log for every run
    with started(
        home, grace_s=args.grace, database_url=args.database_url, receiver=receiver
    ) as mix:
        failed = []
        for name in before:
            try:
                ACTIONS[name](mix)
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                failed.append(f"{name}:{type(exc).__name__}")
        threads = run_in_flight(mix, during)
        time.sleep(pause)
        took = mix.server.stop(sig, timeout_s=bound + 20)
        for t in threads:
            t.join(timeout=30)
        with log_path.open("rb") as f:
            f.seek(offset)
            log = f.read().decode(errors="replace")
        problems = check_consistent(mix, clean="shutdown_overdue" not in log)
    return {
        "before": before, "during": during, "pause_s": round(pause, 2), "signal": sig.name,
        "exit_s": None if took is None else round(took, 2),
        "in_bound": took is not None and took <= bound,
        "watchdog": "shutdown_overdue" in log, "step_timeouts": log.count("shutdown_step_timeout"),
        "failed_requests": failed, "problems": problems,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--grace", type=float, default=10.0, help="READLOOM_SHUTDOWN_GRACE_S")
    ap.add_argument("--database-url", default=None, help="Postgres (default: SQLite)")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--report", type=Path, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    runs = []
    receiver = SlowReceiver().start()  # one partner across the runs: it saw every delivery
    try:
        with tempfile.TemporaryDirectory(prefix="rl-bench-shutdown-") as tmp:
            for i in range(args.runs):
                r = one_run(Path(tmp) / "home", rng, args, receiver)
                runs.append(r)
                print(
                    f"run {i + 1}/{args.runs}: exit {r['exit_s']} s in_bound={r['in_bound']} "
                    f"watchdog={r['watchdog']} problems={r['problems']}",
                    file=sys.stderr, flush=True,
                )  # fmt: skip
    finally:
        receiver.stop()
    times = [r["exit_s"] for r in runs if r["exit_s"] is not None]
    summary = {
        "runs": len(runs),
        "grace_s": args.grace,
        "bound_s": args.grace + 5.0,
        "backend": "postgres" if args.database_url else "sqlite",
        "exited_in_bound": sum(r["in_bound"] for r in runs),
        "needed_watchdog": sum(r["watchdog"] for r in runs),
        "runs_with_step_timeouts": sum(bool(r["step_timeouts"]) for r in runs),
        "exit_s_median": statistics.median(times) if times else None,
        "exit_s_max": max(times) if times else None,
        "runs_with_db_problems": sum(bool(r["problems"]) for r in runs),
        "problems": sorted({p for r in runs for p in r["problems"]}),
        "failed_requests": sorted({f for r in runs for f in r["failed_requests"]}),
    }
    print(json.dumps(summary, indent=2))
    if args.report:
        args.report.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
