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
