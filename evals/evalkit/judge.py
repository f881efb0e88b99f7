"""LLM-as-judge for tutoring replies: the ``judge`` prompt through the LLM gate, on the
keyed providers only. Without a key the rubric is reported as skipped, never faked."""

from __future__ import annotations

import re
from typing import Any

from evalkit.context import EvalContext
from evalkit.model import SuiteOutput

JUDGE_SAMPLE = 40
JUDGE_CRITERIA = ("socratic", "encouragement", "grade_language", "grounding", "no_answer_leak")


async def judge_replies(
    ctx: EvalContext, out: SuiteOutput, turns: list[Any], corpus: dict, gate: Any = None
) -> None:
    """Score a seeded sample of replies with the ``judge`` prompt through the LLM gate,
    on the keyed providers only (a rules engine cannot judge itself)."""
    keyed = ctx.keyed_providers()
    if not keyed:
        reason = "no provider key set: the LLM-as-judge rubric needs a real model"
        for c in JUDGE_CRITERIA:
            out.skip(f"judge_{c}", reason)
        out.details["judge"] = {"skipped": reason}
        return
    from pydantic import BaseModel, Field

    from readloom.llm.base import LLMRequest
    from readloom.prompts.loader import load_prompt

    class JudgeScores(BaseModel):
        socratic: int = Field(ge=1, le=5)
        encouragement: int = Field(ge=1, le=5)
        grade_language: int = Field(ge=1, le=5)
        grounding: int = Field(ge=1, le=5)
        no_answer_leak: int = Field(ge=1, le=5)

    prompt = load_prompt("judge")
    gate = gate or ctx.services().gate
    candidates = [
        t for t in turns if not t.blocked and t.question_after is not None and t.move != "affirm"
    ]
    sample = ctx.sample(candidates, JUDGE_SAMPLE, "judge")
    scores: dict[str, list[int]] = {c: [] for c in JUDGE_CRITERIA}
    judged: dict[str, int] = {}
    failures = 0
    for i, t in enumerate(sample):
        passage = corpus[t.passage_id]
        q = t.question_before or t.question_after
        variables = {
            "grade": passage.grade, "passage_title": passage.title, "question": q.question,
            "answer": q.answer, "student_message": t.message, "reply": t.reply,
        }  # fmt: skip
        req = LLMRequest(
            task="judge", messages=prompt.render(**variables), variables=variables,
            prompt_id=prompt.ref, output_schema=JudgeScores, temperature=0.0, max_tokens=200,
            only_providers=keyed,
        )  # fmt: skip
        try:
            res = await gate.generate(req, session_id=f"eval-judge-{i}",
                                      allow_list=frozenset(passage.characters))  # fmt: skip
        except Exception:  # noqa: BLE001 - a judge failure is counted, not fatal
            failures += 1
            continue
        parsed = res.parsed if isinstance(res.parsed, JudgeScores) else _parse_scores(res.text)
        if parsed is None:
            failures += 1
            continue
        key = f"{res.provenance.provider}/{res.provenance.model}"
        judged[key] = judged.get(key, 0) + 1
        for c in JUDGE_CRITERIA:
            scores[c].append(int(getattr(parsed, c) if not isinstance(parsed, dict) else parsed[c]))
    for c in JUDGE_CRITERIA:
        vals = scores[c]
        out.add(f"judge_{c}", round(sum(vals) / len(vals), 3) if vals else None, n=len(vals),
                note="mean 1-5 rubric score from the LLM judge")  # fmt: skip
    out.add("judge_failure_rate", _rate(failures, len(sample)), n=len(sample))
    main = max(judged, key=judged.get) if judged else None
    provider, _, model = (main or "none/none").partition("/")
    out.details["judge"] = {"provider": provider, "model": model, "prompt": prompt.ref,
                            "replies": len(sample), "models": judged}  # fmt: skip


def _parse_scores(text: str) -> dict[str, int] | None:
    found = {}
    for c in JUDGE_CRITERIA:
        m = re.search(rf"{c}\W{{0,4}}([1-5])", text, re.I)
        if not m:
            return None
        found[c] = int(m.group(1))
    return found


def _rate(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None
