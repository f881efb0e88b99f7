"""Schema-driven fuzzing of the HTTP API: schemathesis against /openapi.json must find
no 500s (nor any other server error), with valid and invalid inputs alike.

    python evals/fuzz_api.py --max-examples 30 [--role admin] [--all-checks]

Starts a real readloom server (offline provider) on a fresh home, mints a key, runs
``schemathesis run`` and exits non-zero when it reports a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from serverkit import Server, ServerExited, running_server

from readloom.api.auth import create_key
from readloom.settings import Settings
from readloom.storage.db import Database, migrate


async def mint(settings: Settings, role: str) -> str:
    db = Database(settings)
    try:
        subject = "fuzz-user" if role in ("student", "teacher") else None
        return (await create_key(db, tenant="fuzz", role=role, subject=subject)).key  # type: ignore[arg-type]
    finally:
        await db.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-examples", type=int, default=30)
    ap.add_argument("--role", default="admin", choices=["student", "teacher", "partner", "admin"])
    ap.add_argument("--all-checks", action="store_true", help="also check schema conformance")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--database-url", default=None, help="e.g. a Postgres URL")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="readloom-fuzz-"))
    settings = Settings(home=home, database_url=args.database_url)
    migrate(settings)
    key = asyncio.run(mint(settings, args.role))
    # A fuzz run, not a figure users get: the tenant limit is lifted so every generated
    # request reaches its handler (the 429 path has its own tests in tests/api).
    env = {**os.environ, "READLOOM_HOME": str(home), "READLOOM_RATE_LIMIT_PER_MINUTE": "1000000"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("ANTHROPIC_API_KEY", None)
    if args.database_url:
        env["READLOOM_DATABASE_URL"] = args.database_url
    try:
        with running_server(home, env) as server:
            return fuzz(server, key, args)
    except ServerExited as exc:
        print(exc)
        return 2


def fuzz(server: Server, key: str, args: argparse.Namespace) -> int:
    """Run schemathesis against the server; non-zero on a failure or a logged 500."""
    base, home = server.base_url, server.log.parent
    probe = httpx.get(base + "/v1/sessions", headers={"Authorization": f"Bearer {key}"})
    print(f"auth probe: GET /v1/sessions -> {probe.status_code}")
    if probe.status_code != 200:
        return 2
    checks = "all" if args.all_checks else "not_a_server_error"
    report = home / "fuzz-report.json"
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")), "run", base + "/openapi.json",
        "--checks", checks, "-H", f"Authorization: Bearer {key}",
        "--max-examples", str(args.max_examples), "--seed", str(args.seed),
        "--phases", "examples,coverage,fuzzing", "--workers", "2",
        "--request-timeout", "60", "--generation-database", "none",
        "--generation-with-security-parameters", "false",
        # it learns its own key's id from GET /v1/keys and revokes it, after which
        # every call is a (correct) 401: revocation is covered by tests/api instead
        "--exclude-operation-id", "revoke_api_key",
        "--report", "json", "--report-json-path", str(report), "--no-color",
    ]  # fmt: skip
    print("$", " ".join(c if "Bearer" not in c else "Authorization: Bearer ***" for c in cmd))
    rc = subprocess.call(cmd)
    print(f"schemathesis exit code {rc}; report: {report}; server log: {server.log}")
    errors = [
        line for line in server.log.read_text(errors="replace").splitlines()
        if "unhandled_error" in line
    ]  # fmt: skip
    print(f"server unhandled errors logged: {len(errors)}")
    for line in errors[:20]:
        print("  ", line)
    return rc or (1 if errors else 0)


if __name__ == "__main__":
    raise SystemExit(main())
