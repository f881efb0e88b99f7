"""Ingest benchmark: does a big passage upload delay other students' tutoring turns?

Starts a real ``readloom serve`` (the defaults a school gets: offline tier, default rate
limits) and measures, over HTTP, a class's tutoring turns sent back to back (ten
students in turn, so none passes the per-student limit): first on their own, then while a
60,000-character passage is being ingested through ``POST /v1/passages``. Prints JSON
with the medians and their ratio.

    .venv/bin/python evals/bench_ingest.py [--chars 60000] [--turns 6]

Goal (issue 17): a turn during the ingest <= 2x its median latency without one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from serverkit import running_server

from readloom.api.auth import create_key
from readloom.settings import PACKAGE_DATA, Settings
from readloom.storage.db import Database, migrate

PASSAGE = "lighthouse-keeper"
STUDENTS = 10  # one class reading while a teacher uploads
MESSAGES = [
    "I think he stayed up because of the storm",
    "maybe the boats needed the light",
    "I don't know, can you help me?",
    "he was brave because he kept the lamp on",
]


def big_text(chars: int) -> str:
    """Shipped passage bodies, concatenated up to ``chars``, with a fresh marker so the
    store never skips it as unchanged."""
    bodies = [
        p.read_text(encoding="utf-8").split("---", 2)[-1].strip()
        for p in sorted((PACKAGE_DATA / "passages").glob("*.md"))
    ]
    parts, size, i = [f"Bench passage {uuid.uuid4().hex}."], 0, 0
    while size < chars:
        parts.append(bodies[i % len(bodies)])
        size += len(parts[-1]) + 2
        i += 1
    return "\n\n".join(parts)[:chars]


async def mint_key(settings: Settings) -> str:
    db = Database(settings)
    try:
        return (await create_key(db, tenant="bench", role="partner")).key
    finally:
        await db.dispose()


async def turn(c: httpx.AsyncClient, sids: list[str], i: int) -> float:
    """Turn ``i`` of the class: students take turns, so none passes the per-student limit
    (a child's default is a turn every 3 s) however long the ingest runs."""
    start = time.perf_counter()
    sid = sids[i % len(sids)]
    text = MESSAGES[(i // len(sids)) % len(MESSAGES)]
    r = await c.post(f"/v1/sessions/{sid}/messages", json={"text": text})
    r.raise_for_status()
    return time.perf_counter() - start


async def run(base: str, key: str, chars: int, turns: int) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as c:
        sids = []
        for n in range(STUDENTS):
            r = await c.post(
                "/v1/sessions",
                json={"student_id": f"bench-{n}", "grade": 4, "passage_id": PASSAGE},
            )
            r.raise_for_status()
            sids.append(r.json()["id"])
        for i in range(STUDENTS):  # warm-up: each session's first-turn caches
            await turn(c, sids, i)
        alone = [await turn(c, sids, STUDENTS + i) for i in range(turns)]

        text = big_text(chars)
        params = {"passage_id": f"bench-{uuid.uuid4().hex[:8]}", "title": "Bench", "grade": 5}

        async def ingest() -> float:
            start = time.perf_counter()
            r = await c.post(
                "/v1/passages", params=params, content=text.encode(),
                headers={"Content-Type": "text/plain"},
            )  # fmt: skip
            r.raise_for_status()
            return time.perf_counter() - start

        upload = asyncio.create_task(ingest())
        await asyncio.sleep(0.2)  # the body is in; the server is chunking and embedding
        during: list[float] = []
        while not upload.done() and len(during) < 50:  # bounded
            during.append(await turn(c, sids, STUDENTS + turns + len(during)))
        ingest_s = await upload
    med_alone, med_during = statistics.median(alone), statistics.median(during or [0.0])
    return {
        "passage_chars": len(text),
        "ingest_s": round(ingest_s, 2),
        "turns_alone": len(alone),
        "turns_during_ingest": len(during),
        "turn_ms_median_alone": round(1000 * med_alone, 1),
        "turn_ms_median_during_ingest": round(1000 * med_during, 1),
        "turn_ms_max_during_ingest": round(1000 * max(during or [0.0]), 1),
        "ratio_median": round(med_during / med_alone, 2),
        "goal_ratio<=2": bool(during) and med_during / med_alone <= 2.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chars", type=int, default=60_000)
    ap.add_argument("--turns", type=int, default=6, help="turns measured without an ingest")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="readloom-bench-ingest-"))
    settings = Settings(home=home)
    migrate(settings)
    key = asyncio.run(mint_key(settings))
    env = {**os.environ, "READLOOM_HOME": str(home)}  # the defaults: offline without keys
    with running_server(home, env) as server:
        report = asyncio.run(run(server.base_url, key, args.chars, args.turns))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
