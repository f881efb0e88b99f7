"""Insights page benchmark: a seeded simulated class (30 students × 4 weeks) in the demo
tenant of a real ``readloom serve --demo``, its Insights tab opened in headless Chromium.

    python evals/bench_insights.py --runs 10

Reports medians from one run, in ms, of the time from pressing "Show" to every figure
drawn (the API call and the rendering, measured in the page): when nothing changed since
the last load (the cached result), and after new activity (one new graded answer: the
analytics agent recomputes, replaying only the students whose answers changed); and the
first load (nothing computed yet). Goal: the page loads in ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "evals"))
CHROMIUM = "/usr/bin/chromium"
CLASS = "bench-class"


def _new_answer(settings, n: int) -> None:
    from sqlalchemy.orm import Session

    from readloom.storage.db import sync_engine
    from readloom.storage.models import GradedResponse, new_id

    engine = sync_engine(settings)
    try:
        with Session(engine) as s, s.begin():
            s.add(GradedResponse(id=new_id("gr"), tenant_id="demo", student_id="sim-s01",
                                 skill="cause_effect", correct=bool(n % 2), item_id=f"bench-{n}",
                                 occurred_at=datetime.now(UTC)))  # fmt: skip
    finally:
        engine.dispose()


def _drawn(page, timeout_s: float = 60.0) -> float:
    """Wait (bounded) until the page says it has drawn the figures; its ms."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ms = page.evaluate("() => document.body.dataset.insightsMs")
        if ms is not None:
            return float(ms)
        time.sleep(0.005)
    raise TimeoutError("the insights were not drawn in time")


def _show(page) -> tuple[float, float]:
    """Press Show; (ms measured in the page, ms wall clock from here)."""
    page.evaluate("() => { delete document.body.dataset.insightsMs; }")
    t0 = time.perf_counter()
    page.locator("#ins-apply").click()
    ms = _drawn(page)
    return ms, (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--format", choices=("text", "json"), default="text")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from serverkit import running_server

    from readloom.service import simclass
    from readloom.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="rl-bench-insights-"))
    env = {
        **os.environ,
        "READLOOM_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    with running_server(home, env, ("--demo",)) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(server.base_url + "/")
        page.locator("#open-teacher").click()  # creates the demo world
        page.wait_for_url(server.base_url + "/teacher")
        settings = Settings(home=home)
        spec = simclass.SimSpec(tenant="demo", class_id=CLASS, teacher="demo-teacher")
        simclass.write(settings, spec)
        page.get_by_role("tab", name="Insights").click()
        page.locator("#ins-class option").first.wait_for(state="attached")
        page.locator("#ins-status").filter(has_text="Insights for").wait_for(timeout=60_000)
        page.evaluate("() => { delete document.body.dataset.insightsMs; }")
        page.locator("#ins-class").select_option(CLASS)
        first = _drawn(page)
        assert "simulated" in page.locator("#ins-status").inner_text(), "not the simulated class"
        struggling = page.locator("#fig-struggling tbody tr").count()
        cached, changed, walls = [], [], []
        for n in range(args.runs):
            ms, wall = _show(page)
            cached.append(ms)
            walls.append(wall)
            _new_answer(settings, n)
            ms, wall = _show(page)
            changed.append(ms)
            walls.append(wall)
        figures = page.locator(".ins-figure").count()
        browser.close()
    out = {
        "students": spec.students,
        "weeks": spec.weeks,
        "runs": args.runs,
        "figures": figures,
        "struggling_rows_shown": struggling,
        "first_load_ms": round(first, 1),
        "cached_median_ms": round(statistics.median(cached), 1),
        "after_new_activity_median_ms": round(statistics.median(changed), 1),
        "click_to_drawn_wall_median_ms": round(statistics.median(walls), 1),
        "goal_ms": 1000,
    }
    if args.format == "json":
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:32} {v}")


if __name__ == "__main__":
    main()
