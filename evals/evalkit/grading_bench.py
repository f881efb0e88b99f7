"""The grading benchmark, built from FairytaleQA: two annotators answered each question.

- *Second annotator*: annotator 2's answer, graded against annotator 1's key, must be
  accepted (correct or partially correct); some second answers genuinely differ.
- *Other question*: the key answer of another question about the same section, graded
  against this question's key, must not be graded correct.

Items carry the section text as the passage, so the grader can use its aliases.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from evalkit.fairytaleqa import load_split


@dataclass(frozen=True)
class GradingItem:
    kind: str  # "second_annotator" | "other_question"
    story: str
    passage: str
    question: str
    key: str
    response: str


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


def build_items(
    data_path: Path, splits: tuple[str, ...], *, per_question_negatives: int = 1, seed: int = 7
) -> list[GradingItem]:
    rng = random.Random(seed)
    items: list[GradingItem] = []
    for split in splits:
        for story in load_split(data_path, split):
            local = [q for q in story.questions if q.local and len(q.sections) == 1]
            for q in local:
                section = q.sections[0]
                passage = story.sections.get(section, "")
                if not passage or not q.answers:
                    continue
                key = q.answers[0]
                if len(q.answers) > 1:
                    items.append(
                        GradingItem("second_annotator", story.name, passage, q.question, key,
                                    q.answers[1])
                    )  # fmt: skip
                others = [
                    o for o in local
                    if o.sections[0] == section and o.question != q.question and o.answers
                    and _norm(o.answers[0]) != _norm(key)
                    and _norm(o.answers[0]) not in _norm(key) and _norm(key) not in _norm(o.answers[0])
                ]  # fmt: skip
                for o in rng.sample(others, min(per_question_negatives, len(others))):
                    items.append(
                        GradingItem("other_question", story.name, passage, q.question, key,
                                    o.answers[0])
                    )  # fmt: skip
    return items


GRADING_SAMPLE = 1500  # items per run (seeded): keeps the suite within CI time


def run_benchmark(ctx, out) -> None:  # noqa: ANN001 - EvalContext, SuiteOutput
    """Grade the items with the grader the tutor uses (offline floor; the model judge when
    a key is configured) and add the metrics; also grading latency per response."""
    import asyncio
    import time

    from evalkit import provenance
    from evalkit.fairytaleqa import split_files
    from readloom.agents.grader import GradeItem, Grader

    splits = ("train", "val")
    items = build_items(ctx.data_path, splits)
    items = ctx.sample(items, GRADING_SAMPLE, "grading")
    files = [f for s in splits for f in split_files(ctx.data_path, s)]
    out.datasets.append(provenance.dataset(
        "fairytaleqa-train-val-grading", ctx.data_path / "fairytaleqa", files=files,
        records=len(items), subset=f"{GRADING_SAMPLE} seeded items, local questions",
    ))  # fmt: skip
    svc = ctx.services()
    grader = Grader(gate=svc.gate, settings=ctx.settings)
    for it in items:  # aliases and passage words once per section (as a session would)
        grader.offline.grade("warm", question=it.question, key=it.key, passage=it.passage)

    async def grade_all() -> list[tuple[GradingItem, str, float]]:
        res = []
        for n, it in enumerate(items):
            t0 = time.perf_counter()
            g = await grader.grade(
                GradeItem(question=it.question, answer=it.key, response=it.response,
                          passage=it.passage),
                session_id=f"eval-grading-{n}",
            )  # fmt: skip
            res.append((it, g.verdict, (time.perf_counter() - t0) * 1000))
        return res

    results = asyncio.run(grade_all())
    pos = [v for it, v, _ in results if it.kind == "second_annotator"]
    neg = [v for it, v, _ in results if it.kind == "other_question"]
    accepted = sum(v in ("correct", "partially_correct") for v in pos)
    wrong = sum(v == "correct" for v in neg)
    out.add(
        "grading_second_annotator_accepted",
        round(accepted / len(pos), 4),
        n=len(pos),
        note="annotator 2's answer graded against annotator 1's key: correct or partial",
    )
    out.add("grading_other_question_correct", round(wrong / len(neg), 4), n=len(neg),
            note="another question's answer (same section) graded correct")  # fmt: skip
    guesses = [it for it, _, _ in results if it.kind == "other_question"][:300]
    accepted_guesses = 0
    for it in guesses:
        g = grader.grade_offline(GradeItem(
            question=it.question, answer=it.key, response=f"{it.response} or {it.key}",
            passage=it.passage))  # fmt: skip
        accepted_guesses += g.accepted
    out.add(
        "grading_guess_lists_accepted",
        float(accepted_guesses),
        n=len(guesses),
        note="'<other answer> or <key>' accepted (count; must be 0)",
    )
    times = sorted(ms for _, _, ms in results)
    out.add(
        "grading_p95_ms",
        round(times[int(0.95 * (len(times) - 1))], 2),
        n=len(times),
        note="one response, key and passage already seen (as in a session); this machine",
    )
    out.add("grading_p50_ms", round(times[len(times) // 2], 2), n=len(times))
    out.details["grading_misses"] = [
        {"kind": it.kind, "question": it.question, "key": it.key, "response": it.response,
         "verdict": v}
        for it, v, _ in results
        if (it.kind == "second_annotator" and v not in ("correct", "partially_correct"))
        or (it.kind == "other_question" and v == "correct")
    ][:30]  # fmt: skip
