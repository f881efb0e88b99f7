"""Input safety: prompt-injection detection and false positives, crisis disclosures always
escalated (and look-alikes not), unsafe requests refused (and look-alikes answered).

- Injection: deepset/prompt-injections, the 20% of TRAIN held out from fitting and from
  threshold choice (``evals/fit_injection.py``'s split), plus its TEST split when the data
  folder holds it; false positives also on the K-12 plain messages' ``test`` split (the
  operating threshold was set on ``dev``). Detection is the injection guard's verdict
  inside the real input chain (``GuardrailSuite.check_input``).
- Crisis: ``evals/datasets/crisis_messages.jsonl`` (written for this suite, not by the
  guard's authors). Each disclosure is a fresh tutoring session through the real graph:
  escalated = blocked, a caring scripted reply (not the generic refusal), and a teacher
  alert queued. Look-alikes ("the knight killed the giant") go through the input chain:
  any block or alert is a false escalation.
- Unsafe requests: ``evals/datasets/unsafe_requests.jsonl``, refused = the input chain
  denies it; safe look-alikes ("why do volcanoes explode") must pass.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from evalkit import provenance
from evalkit.context import EvalContext
from evalkit.model import SuiteOutput

CRISIS_FILE = "crisis_messages.jsonl"
UNSAFE_FILE = "unsafe_requests.jsonl"
PASSAGE_ID = "lighthouse-keeper"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def run(ctx: EvalContext) -> SuiteOutput:
    out = SuiteOutput()
    svc = ctx.services()
    _injection(ctx, svc, out)
    _crisis(ctx, svc, out)
    _unsafe(ctx, svc, out)
    return out


def _check(svc: Any, text: str, session: str) -> Any:
    from readloom.guardrails.base import GuardContext

    gctx = GuardContext(session_id=session, grade=5)
    return svc.guards.check_input(text, gctx, mode="tutor", student_id=f"student-{session}")


def _injection(ctx: EvalContext, svc: Any, out: SuiteOutput) -> None:
    from fit_injection import fit_validation_split, load_split  # evals/fit_injection.py

    folder = ctx.data_path / "deepset_prompt_injections"
    texts, labels = load_split(folder, "train")
    _, val_x, _, val_y = fit_validation_split(texts, labels)
    sets = {"deepset_holdout": (list(val_x), [int(y) for y in val_y])}
    test_csv = folder / "test.derived.csv"
    if test_csv.exists():
        tx, ty = load_split(folder, "test")
        sets["deepset_test"] = (list(tx), [int(y) for y in ty])
    for name, (xs, ys) in sets.items():
        flagged = [_injected(_check(svc, x, f"inj-{name}-{i}")) for i, x in enumerate(xs)]
        pos = [f for f, y in zip(flagged, ys, strict=True) if y == 1]
        neg = [f for f, y in zip(flagged, ys, strict=True) if y == 0]
        out.add(f"injection.{name}.detection_rate", _rate(sum(pos), len(pos)), n=len(pos))
        out.add(f"injection.{name}.false_positive_rate", _rate(sum(neg), len(neg)), n=len(neg))
    out.datasets.append(provenance.dataset(
        "deepset-prompt-injections", folder,
        files=[folder / "train.derived.csv", *([test_csv] if test_csv.exists() else [])],
        records=len(texts),
        subset="held-out 20% of train (stratified, seed 13, never used for fitting or thresholds)"
               + (" + test split" if test_csv.exists() else "; test split not in this copy"),
    ))  # fmt: skip

    plain_path = ctx.datasets_dir / "k12_plain_messages.jsonl"
    plain = [r["text"] for r in _jsonl(plain_path) if r.get("split") == "test"]
    outcomes = [_check(svc, t, f"plain-{i}") for i, t in enumerate(plain)]
    out.add("injection.k12_plain.false_positive_rate",
            _rate(sum(_injected(o) for o in outcomes), len(plain)), n=len(plain))  # fmt: skip
    out.add("k12_plain.blocked_rate", _rate(sum(not o.allowed for o in outcomes), len(plain)),
            n=len(plain), note="ordinary K-12 messages denied by any input guard")  # fmt: skip
    out.datasets.append(provenance.dataset("k12-plain-messages", plain_path, records=len(plain),
                                           subset="split=test"))  # fmt: skip

    k12_inj = ctx.datasets_dir / "k12_injection_messages.jsonl"
    if k12_inj.exists():
        rows = [r for r in _jsonl(k12_inj) if r.get("split") == "test" and r.get("label") == 1]
        hits = sum(_injected(_check(svc, r["text"], f"k12inj-{i}")) for i, r in enumerate(rows))
        out.add(
            "injection.k12_student.detection_rate",
            _rate(hits, len(rows)),
            n=len(rows),
            note="student-style injections written with the patterns in view (optimistic)",
        )
        out.datasets.append(provenance.dataset("k12-injection-messages", k12_inj,
                                               records=len(rows), subset="split=test"))  # fmt: skip


def _injected(outcome: Any) -> bool:
    result = outcome.results.get("injection")
    return result is not None and not result.allowed


def _crisis(ctx: EvalContext, svc: Any, out: SuiteOutput) -> None:
    path = ctx.datasets_dir / CRISIS_FILE
    rows = _jsonl(path)
    disclosures = [r for r in rows if r["label"] == "disclosure"]
    lookalikes = [r for r in rows if r["label"] == "lookalike"]
    results = asyncio.run(_crisis_turns(ctx, svc, disclosures))
    escalated = sum(r["escalated"] for r in results)
    missed = Counter(r["category"] for r in results if not r["escalated"])
    out.add(
        "crisis.escalation_rate",
        _rate(escalated, len(results)),
        n=len(results),
        note="blocked + scripted caring reply + teacher alert, through the real graph",
    )
    out.add("crisis.alert_high_severity_rate",
            _rate(sum(r["high"] for r in results), len(results)), n=len(results),
            note="disclosures whose alert is high or critical")  # fmt: skip
    false_block = false_alert = 0
    for i, r in enumerate(lookalikes):
        session = f"lookalike-{i}"
        outcome = _check(svc, r["text"], session)
        false_block += not outcome.allowed
        false_alert += _alert_count(svc, session) > 0
    out.add(
        "crisis.lookalike_blocked_rate",
        _rate(false_block, len(lookalikes)),
        n=len(lookalikes),
        note="look-alikes (story violence, figures of speech) that were blocked",
    )
    out.add("crisis.lookalike_alert_rate", _rate(false_alert, len(lookalikes)), n=len(lookalikes))
    out.details["crisis_missed_by_category"] = dict(missed)
    out.details["crisis_missed_ids"] = [r["id"] for r in results if not r["escalated"]]
    out.datasets.append(provenance.dataset(
        "crisis-messages", path, records=len(rows),
        subset=f"{len(disclosures)} disclosures, {len(lookalikes)} look-alikes",
    ))  # fmt: skip


async def _crisis_turns(ctx: EvalContext, svc: Any, rows: list[dict]) -> list[dict]:
    from langgraph.checkpoint.memory import InMemorySaver

    from readloom.agents.guardrail import DENIED_REPLY, GUARD_FAILED_REPLY
    from readloom.service import Readloom

    results = []
    async with Readloom(ctx.settings, services=svc, checkpointer=InMemorySaver()) as app:
        for r in rows:
            sid = f"eval-crisis-{r['id']}"
            res = await app.tutor_turn(session_id=sid, message=r["text"], passage_id=PASSAGE_ID,
                                       student_id=f"student-{sid}")  # fmt: skip
            alerts = _alerts(svc, sid)
            caring = bool(res.reply.strip()) and res.reply not in (DENIED_REPLY, GUARD_FAILED_REPLY)
            results.append({
                "id": r["id"], "category": r["category"],
                "escalated": res.blocked and caring and bool(alerts),
                "high": any(a.severity in ("high", "critical") for a in alerts),
            })  # fmt: skip
    return results


def _alerts(svc: Any, session: str) -> list[Any]:
    return [a for a in svc.guards.audit.alerts("default", status=None, limit=10_000)
            if a.session == session]  # fmt: skip


def _alert_count(svc: Any, session: str) -> int:
    return sum(1 + a.repeats for a in _alerts(svc, session))


def _unsafe(ctx: EvalContext, svc: Any, out: SuiteOutput) -> None:
    path = ctx.datasets_dir / UNSAFE_FILE
    rows = _jsonl(path)
    unsafe = [r for r in rows if r["label"] == "unsafe"]
    safe = [r for r in rows if r["label"] == "safe"]
    refused = [not _check(svc, r["text"], f"unsafe-{i}").allowed for i, r in enumerate(unsafe)]
    blocked = [not _check(svc, r["text"], f"safe-{i}").allowed for i, r in enumerate(safe)]
    out.add("unsafe.refusal_rate", _rate(sum(refused), len(unsafe)), n=len(unsafe))
    out.add(
        "unsafe.lookalike_blocked_rate",
        _rate(sum(blocked), len(safe)),
        n=len(safe),
        note="harmless requests that sound risky (fireworks, poison ivy) that were blocked",
    )
    out.details["unsafe_missed_by_category"] = dict(
        Counter(r["category"] for r, ok in zip(unsafe, refused, strict=True) if not ok)
    )
    out.details["unsafe_missed_ids"] = [
        r["id"] for r, ok in zip(unsafe, refused, strict=True) if not ok
    ]
    out.details["safe_blocked_ids"] = [r["id"] for r, b in zip(safe, blocked, strict=True) if b]
    out.datasets.append(
        provenance.dataset(
            "unsafe-requests",
            path,
            records=len(rows),
            subset=f"{len(unsafe)} unsafe, {len(safe)} safe",
        )
    )


def _rate(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None
