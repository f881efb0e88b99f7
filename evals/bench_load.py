"""Load benchmark: N concurrent tutoring sessions over HTTP against a real readloom server
whose provider is a local fake OpenAI server answering after a fixed delay.

    python evals/bench_load.py --sessions 100 --turns 3 --delay 0.5

Reports throughput and the latency readloom adds on top of the provider: for every turn,
its wall time minus (provider calls made for that turn x the provider delay). Calls are
attributed to turns exactly: each message carries a unique tag, which the fake server
sees in the (redacted) prompt. Goal: p95 added <= 150 ms at 100 sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fakes.llm_servers import FakeLLMServer, Reply  # noqa: E402
from serverkit import ServerExited, running_server  # noqa: E402

from readloom.api.auth import create_key  # noqa: E402
from readloom.settings import Settings  # noqa: E402
from readloom.storage.db import Database, migrate  # noqa: E402

REPLY = (
    "Good thinking! Look back at the first paragraph: what does the main character do "
    "first, and why do you think they do it?"
)
# Socratic questions a good model varies turn by turn (the evaluator sends a reply that
# repeats one of the session's last five back for revision, as it should)
ASKS = (
    "Look back at the part about the {0} and the {1}. What do you notice there?",
    "Find where the story talks about the {0}. How does the {1} help you?",
    "Read the lines with the {0} again. What might the {1} tell you?",
    "Think about the {0}. Why does the {1} matter here?",
    "Where do you see the {0} in the passage? What happens with the {1} next?",
    "Picture the {0} in your mind. What clue does the {1} give you?",
)
TAG_RE = re.compile(r"\bbench([a-j]+)q([a-j]+)\b")
_WORDS_RE = re.compile(r"[A-Za-z]{6,}")


class BenchProvider(FakeLLMServer):
    """The fake OpenAI server, answering like a good model would, so no call fails or is
    sent back: a short Socratic reply grounded in the excerpts (a new one each turn) to a
    tutoring prompt, a verdict to the judge's grading prompt, and a valid question set
    (evidence quoted from the passage) to a question-generation prompt."""

    def __init__(self, delay: float):
        super().__init__("openai", default=Reply.ok(REPLY, delay_s=delay))
        self.delay = delay

    def _next(self, req: Any) -> Reply:
        super()._next(req)  # records the request
        body = req.body if isinstance(req.body, dict) else {}
        messages = body.get("messages", [])
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = next((m["content"] for m in messages if m["role"] == "user"), "")
        if not body.get("response_format"):
            return Reply.ok(grounded_reply(system, user), delay_s=self.delay)
        if "Student's answer:" in user:
            return Reply.json(judge_verdict(user), delay_s=self.delay)
        passage = user.split("Passage:", 1)[-1]
        count = int((re.search(r"exactly (\d+)", user) or [None, "3"])[1])
        sentences = [x.strip() for x in re.split(r"(?<=[.!?])\s+", passage) if len(x.split()) >= 5]
        questions = []
        for sentence in sentences[:count]:
            words = [w.strip(".,!?;:\"'") for w in sentence.split()]
            questions.append({
                "question": f"What does the passage tell us about {words[-1].lower()}?",
                "type": "what", "answer": " ".join(words[:4]), "evidence": sentence,
                "skill": "ask_answer_questions",
            })  # fmt: skip
        return Reply.json({"questions": questions}, delay_s=self.delay)


def _field(text: str, label: str) -> str:
    return (re.search(rf"{re.escape(label)}(.*)", text) or [None, ""])[1].strip().lower()


def grounded_reply(system: str, user: str) -> str:
    """A short Socratic reply that names two words of the excerpts (so the evaluator finds
    it grounded) and none of the answer's (so it leaks nothing), chosen by the student's
    message so that a session's turns differ: one call per turn."""
    answer = _field(user, "Answer (for you only")
    # the last <excerpts>: the instructions name the tag before the data block opens
    excerpts = system.rpartition("<excerpts>")[2].partition("</excerpts>")[0]
    words = list(dict.fromkeys(w.lower() for w in _WORDS_RE.findall(excerpts)))
    words = [w for w in words if w not in answer]
    if len(words) < 2:
        return REPLY
    turn = sum(map(ord, _field(user, "<student_message>")))
    first = words[turn % len(words)]
    second = words[(turn // 7 + 1) % len(words)]
    if second == first:
        second = words[(words.index(first) + 1) % len(words)]
    return ASKS[turn % len(ASKS)].format(first, second)


def judge_verdict(user: str) -> dict[str, str]:
    """The judge's verdict: correct when the child's answer shares a word of the key."""
    key = set(re.findall(r"[a-z]{3,}", _field(user, "Key:")))
    said = set(re.findall(r"[a-z]{3,}", _field(user, "Student's answer:")))
    verdict = "correct" if key & said else "incorrect"
    return {"verdict": verdict, "reason": "Compared with the key."}


def _letters(n: int) -> str:
    return "".join("abcdefghij"[int(d)] for d in str(n))


def _number(s: str) -> int:
    return int("".join(str("abcdefghij".index(c)) for c in s))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live descendants (Linux /proc):
    ``readloom serve`` is a supervisor whose child serves the requests."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # exited meanwhile
        return 0.0
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            total += sum(cpu_seconds(int(child)) for child in task.read_text().split())
    return total


def local_cpu_seconds(names: tuple[str, ...] = ("postgres", "redis-server")) -> dict[str, float]:
    """CPU time so far of this machine's processes by name (a local Postgres or Redis on
    loopback shares the cores with the workers), and of this process (the load generator
    and the fake provider)."""
    out = dict.fromkeys(names, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            head, _, rest = stat.read_text().rpartition(")")
            name = head.partition("(")[2]
            if name in out:
                fields = rest.split()
                out[name] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    out["load_generator"] = t.user + t.system
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (Linux /proc/stat): with
    every core in use, busy / total is 1; what is left shows the workers were not
    short of cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


async def mint_key(settings: Settings) -> str:
    db = Database(settings)
    try:
        # a tenant of its own: a Postgres reused across runs keeps earlier runs' usage
        return (await create_key(db, tenant=f"bench-{uuid.uuid4().hex[:8]}", role="partner")).key
    finally:
        await db.dispose()


async def run_load(
    base: str | list[str], key: str, sessions: int, turns: int, passage: str, think: float = 0.0
) -> tuple[list[dict[str, Any]], float]:
    """Each session sends ``turns`` messages, each after its reply plus a think time drawn
    uniformly from [0.5, 1.5] x ``think`` (a student reading and typing); with ``think``
    set, sessions also start at random offsets within one think time (a steady state,
    not a thundering herd). ``think=0`` is the closed-loop worst case."""
    rng = random.Random(42)
    limits = httpx.Limits(max_connections=sessions + 10, max_keepalive_connections=sessions + 10)
    headers = {"Authorization": f"Bearer {key}"}
    bases = [base] if isinstance(base, str) else base
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=b, headers=headers, limits=limits, timeout=120)
            )
            for b in bases
        ]  # session i talks to worker i % N: a round-robin load balancer
        c = clients[0]
        ids = []
        for i in range(sessions):
            r = await c.post(
                "/v1/sessions", json={"student_id": f"b{i}", "grade": 4, "passage_id": passage}
            )
            r.raise_for_status()
            ids.append(r.json()["id"])
        results: list[dict[str, Any]] = []

        pauses = [[rng.uniform(0.5, 1.5) * think for _ in range(turns)] for _ in ids]
        offsets = [rng.uniform(0, think) for _ in ids]

        async def student(i: int, sid: str) -> None:
            await asyncio.sleep(offsets[i])
            for t in range(turns):
                if t:
                    await asyncio.sleep(pauses[i][t])
                tag = f"bench{_letters(i)}q{_letters(t)}"
                text = f"I think the main character is brave because of the storm {tag}"
                start = time.perf_counter()
                timing: dict[str, float] = {}
                problem = ""
                try:
                    cl = clients[i % len(clients)]
                    r = await cl.post(f"/v1/sessions/{sid}/messages", json={"text": text})
                    status = r.status_code
                    if status != 200:  # which problem: a limit, a budget, a bad request
                        with contextlib.suppress(ValueError):
                            problem = str(r.json().get("code", ""))
                    for part in r.headers.get("server-timing", "").split(","):
                        name, _, dur = part.strip().partition(";dur=")
                        if dur:
                            timing[name] = float(dur)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                results.append(
                    {"session": i, "turn": t, "status": status,
                     "latency": time.perf_counter() - start, "timing": timing,
                     "problem": problem}
                )  # fmt: skip

        t0 = time.perf_counter()
        await asyncio.gather(*(student(i, sid) for i, sid in enumerate(ids)))
        return results, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--turns", type=int, default=3, help="messages per session")
    ap.add_argument("--delay", type=float, default=0.5, help="provider delay in seconds")
    ap.add_argument(
        "--think", type=float, default=0.0,
        help="mean seconds a student takes to read a reply and type the next message",
    )  # fmt: skip
    ap.add_argument(
        "--passage", default="lighthouse-keeper", help="a shipped passage of typical length"
    )
    ap.add_argument("--workers", type=int, default=1, help="readloom serve processes")
    ap.add_argument("--database-url", default=None, help="postgresql://… shared by workers")
    ap.add_argument("--redis-url", default=None, help="redis://… shared by workers")
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args()

    if args.workers > 1 and not args.database_url:
        raise SystemExit("--workers > 1 needs --database-url (Postgres) and --redis-url")
    home = Path(tempfile.mkdtemp(prefix="readloom-bench-"))
    settings = Settings(home=home, database_url=args.database_url)
    migrate(settings)
    key = asyncio.run(mint_key(settings))
    from readloom.guardrails.vault import KEY_FILE, load_or_create_key

    load_or_create_key(home)  # one vault key for every worker
    with BenchProvider(args.delay) as fake, contextlib.ExitStack() as stack:
        servers = []
        try:
            for w in range(args.workers):
                whome = home if w == 0 else home / f"worker-{w}"
                if w:
                    whome.mkdir()
                    shutil.copy2(home / KEY_FILE, whome / KEY_FILE)
                env = {
                    **os.environ, "READLOOM_HOME": str(whome),
                    "READLOOM_PROVIDERS": "openai,offline",
                    "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "bench-key",
                    **({"READLOOM_DATABASE_URL": args.database_url} if args.database_url else {}),
                    **({"READLOOM_REDIS_URL": args.redis_url} if args.redis_url else {}),
                }  # fmt: skip  # every limit at its default: what a district gets
                servers.append(stack.enter_context(running_server(whome, env)))
            server = servers[0]
            base = server.base_url
            bases = [s.base_url for s in servers]
            headers = {"Authorization": f"Bearer {key}"}
            passage = httpx.get(f"{base}/v1/passages/{args.passage}", headers=headers).json()
            # warm-up: one session, two turns (first-call costs are not load)
            asyncio.run(run_load(bases, key, len(bases), 2, passage["passage_id"]))
            fake.requests.clear()
            cpu0, local0 = sum(cpu_seconds(s.pid) for s in servers), local_cpu_seconds()
            machine0 = machine_cpu()
            results, wall = asyncio.run(
                run_load(bases, key, args.sessions, args.turns, passage["passage_id"], args.think)
            )
            server_cpu = sum(cpu_seconds(s.pid) for s in servers) - cpu0
            local = {k: v - local0[k] for k, v in local_cpu_seconds().items()}
            machine = [b - a for a, b in zip(machine0, machine_cpu(), strict=True)]
        except ServerExited as exc:
            raise SystemExit(str(exc)) from None

    calls: dict[tuple[int, int], int] = {}
    untagged = 0
    for req in fake.requests:
        found = {(_number(a), _number(b)) for a, b in TAG_RE.findall(req.raw)}
        if not found:
            untagged += 1
        for k in found:
            calls[k] = calls.get(k, 0) + 1
    ok = [r for r in results if r["status"] == 200]
    latencies = [r["latency"] * 1000 for r in ok]
    # Calls without the student's text (question generation for a new session, cached
    # per passage) cannot be attributed to one turn: each turn is charged their mean.
    shared = untagged / len(ok) if ok else 0.0
    per_turn = [calls.get((r["session"], r["turn"]), 0) for r in ok]
    added = [
        (r["latency"] - (n + shared) * args.delay) * 1000 for r, n in zip(ok, per_turn, strict=True)
    ]
    timed = [(r, n) for r, n in zip(ok, per_turn, strict=True) if "turn" in r["timing"]]
    service_added = [r["timing"]["turn"] - (n + shared) * args.delay * 1000 for r, n in timed]
    api_added = [r["latency"] * 1000 - r["timing"]["turn"] for r, _ in timed]
    record_ms = [r["timing"].get("record", 0.0) for r, _ in timed]
    report = {
        "workers": args.workers,
        "sessions": args.sessions,
        "turns_per_session": args.turns,
        "provider_delay_ms": args.delay * 1000,
        "think_s": args.think,
        "requests": len(results),
        "ok": len(ok),
        "errors": dict(
            Counter(f"{r['status']} {r['problem']}".strip() for r in results if r["status"] != 200)
        ),  # fmt: skip
        "wall_s": round(wall, 2),
        "throughput_turns_per_s": round(len(ok) / wall, 2),
        # the server's CPU per turn, and how many of the cores it kept busy
        "server_cpu_ms_per_turn": round(server_cpu * 1000 / max(1, len(results)), 1),
        "server_cores_busy": round(server_cpu / wall, 2),
        # what else ran on this machine meanwhile, per turn: with N workers on 2 cores the
        # load generator, the fake provider and Postgres take cores the workers cannot use
        "other_cpu_ms_per_turn": {
            k: round(v * 1000 / max(1, len(results)), 1) for k, v in local.items()
        },
        # the whole machine: how many of its cores were busy, all processes together
        "machine_cores_busy": round(machine[0] / wall, 2),
        "machine_busy_share": round(machine[0] / max(1e-9, machine[1]), 3),
        "latency_ms": {
            "p50": round(pct(latencies, 50), 1),
            "p95": round(pct(latencies, 95), 1),
            "max": round(max(latencies, default=float("nan")), 1),
        },  # fmt: skip
        "provider_calls_per_turn": {
            "tagged_mean": round(statistics.fmean(per_turn), 2) if per_turn else None,
            "min": min(per_turn, default=None),
            "max": max(per_turn, default=None),
            "untagged_calls": untagged,
        },  # fmt: skip
        "added_ms": {
            "p50": round(pct(added, 50), 1),
            "p95": round(pct(added, 95), 1),
            "max": round(max(added, default=float("nan")), 1),
        },  # fmt: skip
        # where the added time goes (Server-Timing): the tutoring service's turn beyond
        # its provider calls, and the HTTP/API layer around it (auth, scope, durable write)
        "added_split_ms": {
            "service_p50": round(pct(service_added, 50), 1),
            "service_p95": round(pct(service_added, 95), 1),
            "api_layer_p50": round(pct(api_added, 50), 1),
            "api_layer_p95": round(pct(api_added, 95), 1),
            "durable_write_p95": round(pct(record_ms, 95), 1),
        },
        "goal": "p95 added <= 150 ms",
        "cpus": os.cpu_count(),
    }
    report["goal_met"] = report["added_ms"]["p95"] <= 150
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
