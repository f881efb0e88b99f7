"""FairytaleQA (Xu et al., ACL 2022) as read from ``$data_path/fairytaleqa``: stories split
into sections, and expert-written questions tied to the sections they are about."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("fairytaleqa") / "data-by-train-split"
ELEMENTS = ("character", "setting", "action", "feeling", "causal relationship",
            "outcome resolution", "prediction")  # fmt: skip


@dataclass(frozen=True)
class ExpertQuestion:
    question: str
    answers: tuple[str, ...]
    sections: tuple[int, ...]
    element: str  # attribute1: the narrative element
    explicit: bool
    local: bool


@dataclass
class Story:
    name: str
    sections: dict[int, str]
    questions: list[ExpertQuestion] = field(default_factory=list)

    def questions_for(self, section: int) -> list[ExpertQuestion]:
        return [q for q in self.questions if section in q.sections]


def split_files(data_path: Path, split: str) -> list[Path]:
    base = data_path / ROOT
    return sorted((base / "section-stories" / split).glob("*-story.csv")) + sorted(
        (base / "questions" / split).glob("*-questions.csv")
    )


def _sections(cell: str) -> tuple[int, ...]:
    return tuple(int(p) for p in cell.replace(";", ",").split(",") if p.strip().isdigit())


def load_split(data_path: Path, split: str = "val") -> list[Story]:
    base = data_path / ROOT
    stories: list[Story] = []
    for story_file in sorted((base / "section-stories" / split).glob("*-story.csv")):
        name = story_file.name.removesuffix("-story.csv")
        with story_file.open(newline="", encoding="utf-8") as fh:
            sections = {int(r["section"]): r["text"].strip() for r in csv.DictReader(fh)}
        story = Story(name=name, sections=sections)
        qfile = base / "questions" / split / f"{name}-questions.csv"
        if qfile.exists():
            with qfile.open(newline="", encoding="utf-8") as fh:
                for r in csv.DictReader(fh):
                    answers = tuple(a for a in (r.get("answer1"), r.get("answer4")) if a)
                    story.questions.append(
                        ExpertQuestion(
                            question=r["question"].strip(),
                            answers=answers,
                            sections=_sections(r["cor_section"]),
                            element=(r.get("attribute1") or "").strip(),
                            explicit=(r.get("ex-or-im1") or "").strip() == "explicit",
                            local=(r.get("local-or-sum") or "").strip() == "local",
                        )  # fmt: skip
                    )
        stories.append(story)
    if not stories:
        raise FileNotFoundError(f"no FairytaleQA {split} stories under {base}")
    return stories
