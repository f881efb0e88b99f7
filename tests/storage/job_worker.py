"""A queue worker process for ``test_job_queue.py``: the real ``QuestionJobRunner`` on
the given database, with a job that marks each start in ``runs/`` and then waits for
``runs/release`` (bounded), so a test can kill it mid-job.

Usage: python job_worker.py HOME RUNS_DIR [DATABASE_URL]
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from readloom.service.jobs import QuestionJobRunner
from readloom.settings import Settings
from readloom.storage.db import Database
from readloom.storage.leases import open_leases


async def main(home: Path, runs: Path, url: str | None) -> None:
    settings = Settings(home=home, database_url=url)
    db = Database(settings)
    leases = open_leases(settings)

    async def work(request: dict[str, Any], tenant: str) -> dict[str, Any]:
        job = request["name"]
        n = len(list(runs.glob(f"{job}.*")))
        (runs / f"{job}.{os.getpid()}.{n}").write_text(tenant)
        deadline = time.monotonic() + 60
        while request.get("block") and not (runs / "release").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("never released")
            await asyncio.sleep(0.05)
        return {"worker": os.getpid()}  # who finished it

    runner = QuestionJobRunner(db, leases, work, poll_s=0.2)
    runner.start()
    (runs / f"ready.{os.getpid()}").write_text("")
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    asyncio.run(
        main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    )
