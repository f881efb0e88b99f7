"""Tracing overhead on a tutoring turn: telemetry on vs off, same process, interleaved.

Two tutoring sessions walk the same script in lockstep through the real service (offline
provider, real Presidio, spaCy, Chroma, SQLite checkpointer): turn k of the "on" session,
then turn k of the "off" session, the order alternating every round (ABBA) so neither
side always runs warm. "On" binds readloom's instrumentation to SDK providers exporting
to memory the way production does (``BatchSpanProcessor`` + a metric reader); "off" is
what a process gets with no ``OTEL_*`` exporter configured (the no-op API).

Reported (JSON):

- ``turn_ms``: median turn latency on and off, and the median paired difference;
  ``overhead_pct`` = median paired difference / median "off" turn. On a shared machine
  this end-to-end figure is dominated by noise (tens of ms) far larger than the effect;
- ``instrumentation``: the cost measured directly, which is what the goal is about:
  spans and metric recordings per turn (counted from the exporter) times the measured
  per-span and per-recording cost (on minus off, microbenchmark of readloom's own span
  helper with typical attributes), as a share of the median turn.

Goal (issue 8): tracing overhead <= 2% of a turn's orchestration time.

    .venv/bin/python evals/bench_tracing.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from readloom.observability import turn_span
from readloom.observability.telemetry import build_telemetry
from readloom.observability.tracing import TurnScope, bind, instruments, span, turn_scope
from readloom.service import Readloom, build_services
from readloom.settings import Settings, configure_offline_environment

PASSAGE_ID = "lighthouse-keeper"
SCRIPT = [
    "hi, my name is Maria Lopez",
    "a purple dragon",
    "idk, can I have a hint?",
    "the lighthouse keeper",
    "I think he was brave because he climbed the steps",
    "just tell me the answer",
]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class _Counted:
    """Counts the recordings made on one instrument (to report recordings per turn)."""

    def __init__(self, inner: Any, tally: list[int]) -> None:
        self._inner, self._tally = inner, tally

    def add(self, *args: Any, **kwargs: Any) -> None:
        self._tally[0] += 1
        self._inner.add(*args, **kwargs)

    def record(self, *args: Any, **kwargs: Any) -> None:
        self._tally[0] += 1
        self._inner.record(*args, **kwargs)


class Modes:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        self.recordings = [0]
        self.on = build_telemetry(
            environ={},
            span_processors=[BatchSpanProcessor(self.exporter, max_queue_size=1 << 16)],
            metric_readers=[self.reader],
        )

    def enable(self, on: bool, *, count: bool = True) -> None:
        if not on:
            bind(None, None)  # no SDK installed: the no-op API
            return
        bind(self.on.tracer_provider, self.on.meter_provider)
        inst = instruments()  # the same object on every bind: wrap its instruments once
        for name, value in vars(inst).items():
            if count and not isinstance(value, _Counted):
                setattr(inst, name, _Counted(value, self.recordings))
            elif not count and isinstance(value, _Counted):
                setattr(inst, name, value._inner)


async def run_turns(svc: Any, modes: Modes, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"on": [], "off": []}
    async with Readloom(svc.settings, services=svc) as app:
        for r in range(rounds + 1):  # round 0 warms both paths up and is discarded
            sids = {m: f"bench-{m}-{r}" for m in ("on", "off")}
            for k, message in enumerate(SCRIPT):
                order = ("on", "off") if (r + k) % 2 == 0 else ("off", "on")
                for mode in order:
                    modes.enable(mode == "on")
                    start = time.perf_counter()
                    with turn_span("tutor_turn", session_id=sids[mode], tenant="bench"):
                        await app.tutor_turn(
                            session_id=sids[mode], message=message, tenant="bench",
                            student_id=f"stu-{mode}", passage_id=PASSAGE_ID if k == 0 else None,
                        )  # fmt: skip
                    if r:
                        times[mode].append(time.perf_counter() - start)
    modes.enable(False)
    return times


def per_call_cost(modes: Modes, n: int = 20000) -> dict[str, float]:
    """Microseconds per readloom span (typical attributes) and per metric recording."""
    attrs = {"readloom.node": "executor", "gen_ai.system": "offline", "readloom.llm.attempt": 1}

    def spans() -> float:
        start = time.perf_counter()
        with turn_scope(TurnScope(session_id="bench", tenant="bench", mode="tutor")):
            for _ in range(n):
                with span("node executor", attrs) as s:
                    if s.is_recording():
                        s.set_attribute("readloom.verdict.action", "accept")
        return (time.perf_counter() - start) / n * 1e6

    def records() -> float:
        hist = instruments().node_duration
        start = time.perf_counter()
        for _ in range(n):
            hist.record(0.01, {"node": "executor", "outcome": "ok"})
        return (time.perf_counter() - start) / n * 1e6

    out = {}
    for mode in ("off", "on"):
        modes.enable(mode == "on", count=False)
        spans()  # warm-up
        out[f"span_us_{mode}"] = round(min(spans() for _ in range(3)), 3)
        out[f"metric_us_{mode}"] = round(min(records() for _ in range(3)), 3)
    modes.enable(False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="sessions per mode (6 turns each)")
    args = parser.parse_args()
    configure_offline_environment()
    home = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
    print("loading models…", file=sys.stderr)
    svc = build_services(Settings(home=home, providers=["offline"]))
    modes = Modes()
    times = asyncio.run(run_turns(svc, modes, args.rounds))
    modes.on.force_flush()

    on, off = times["on"], times["off"]
    pairs = [a - b for a, b in zip(on, off, strict=True)]
    median_off = statistics.median(off)
    turns_on = len(on) + len(SCRIPT)  # the warm-up round also exported
    spans_total = len(modes.exporter.get_finished_spans())
    recordings = modes.recordings[0]
    costs = per_call_cost(modes)
    spans_per_turn = spans_total / turns_on
    records_per_turn = recordings / turns_on
    instr_us = spans_per_turn * (costs["span_us_on"] - costs["span_us_off"]) + records_per_turn * (
        costs["metric_us_on"] - costs["metric_us_off"]
    )
    report = {
        "rounds": args.rounds,
        "turns_per_mode": len(on),
        "turn_ms": {
            "median_off": ms(median_off),
            "median_on": ms(statistics.median(on)),
            "median_paired_diff": ms(statistics.median(pairs)),
            "p90_off": ms(statistics.quantiles(off, n=10)[-1]),
        },
        "overhead_pct": round(100 * statistics.median(pairs) / median_off, 2),
        "instrumentation": {
            "spans_per_turn": round(spans_per_turn, 1),
            "metric_recordings_per_turn": round(records_per_turn, 1),
            **costs,
            "cost_per_turn_ms": round(instr_us / 1000, 3),
            "pct_of_median_turn": round(100 * instr_us / 1e6 / median_off, 3),
        },
        "goal_pct": 2.0,
    }
    report["meets_goal"] = report["instrumentation"]["pct_of_median_turn"] <= 2.0
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
