"""Next step for a student: a skill from their frontier and a passage to practise it on.

Rules a teacher can check: keep working on a skill already started; otherwise the
earliest-taught skill the student is ready for; interests pick among equally good
skills and passages. The passage must suit the skill (a narrator needs a story) and sit
within a grade of the student's, preferring a match with what they like to read about.

Among passages that are equally good by those rules, a student's pick is a stable hash of
(student, passage): the same student gets the same passage on every refresh, and a class
is spread over every suitable passage instead of all being sent to the first by id (v1
did that: a whole class read one passage). Without a student the old order stands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from readloom.errors import InputError
from readloom.retrieval.models import Passage
from readloom.tools.prerequisites import MASTERY_THRESHOLD, Skill, SkillGraph

if TYPE_CHECKING:
    from readloom.tools.mastery import MasteryStore

PassageSource = Sequence[Passage] | Callable[..., Sequence[Passage]]
"""A list of passages, or a callable ``(grade=int, topics=list[str]) -> passages``."""

Kind = Literal["continue", "new", "review"]
POLICY_VERSION = "recommender@v2"  # v2: equally good passages are spread across students


class Recommendation(BaseModel):
    kind: Kind = Field(description="continue a started skill, start a new one, or review")
    skill_id: str
    skill_name: str
    strand: str
    mastery: float | None = Field(description="Current P(mastered); None if never practised")
    passage_id: str | None = None
    passage_title: str | None = None
    passage_grade: int | None = None
    matched_topics: list[str] = Field(default_factory=list)
    reason: str = Field(description="One line for the teacher")
    alternatives: list[str] = Field(
        default_factory=list, description="Other ready skills, best first"
    )


def _norm(topic: str) -> str:
    word = " ".join(topic.lower().split())
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _overlap(passage: Passage, interests: Sequence[str]) -> list[str]:
    liked = {_norm(i) for i in interests if i.strip()}
    return [t for t in passage.topics if _norm(t) in liked]


def _fmt(p: float) -> str:
    return f"{p:.2f}"


class Recommender:
    def __init__(
        self, graph: SkillGraph, passages: PassageSource, *, threshold: float = MASTERY_THRESHOLD
    ):
        self.graph = graph
        self.passages = passages
        self.threshold = threshold

    def _candidates(self, grade: int, interests: Sequence[str]) -> list[Passage]:
        if callable(self.passages):
            return list(self.passages(grade=grade, topics=list(interests)))
        return list(self.passages)

    def _best_passage(
        self,
        skill: Skill,
        pool: Sequence[Passage],
        grade: int,
        interests: Sequence[str],
        exclude: Collection[str],
        student_key: str | None = None,
    ) -> tuple[Passage | None, list[str]]:
        suitable = [p for p in pool if skill.suits(p.genre) and p.passage_id not in exclude]
        if not suitable:
            return None, []

        def key(p: Passage) -> tuple[int, int, object]:
            gap = abs(p.grade - grade)
            if student_key is None:
                tie: object = (gap, p.grade > grade, p.passage_id)
            else:
                tie = hashlib.sha256(f"{student_key}\0{p.passage_id}".encode()).hexdigest()
            return (0 if gap <= 1 else gap, -len(_overlap(p, interests)), tie)

        best = min(suitable, key=key)
        return best, _overlap(best, interests)

    def recommend(
        self,
        mastery: Mapping[str, float],
        grade: int,
        interests: Sequence[str] = (),
        *,
        student_name: str | None = None,
        exclude_passages: Collection[str] = (),
        student_key: str | None = None,
    ) -> Recommendation:
        """Pick the next skill and passage. ``student_name`` appears only in the reason:
        pass a pseudonym when the reason may reach a model. ``student_key`` (a pseudonymous
        id) spreads students over equally good passages."""
        if not 0 <= grade <= 12:
            raise InputError(f"grade must be between 0 and 12, got {grade}")
        kind: Kind = "new"
        ready = self.graph.frontier(mastery, grade, self.threshold)
        remedial = False
        if not ready:
            ready = self.graph.frontier(mastery, grade, self.threshold, below_band=True)
            remedial = bool(ready)
        if not ready:
            kind = "review"
            taught = [s for s in self.graph.skills if s.grade_min <= grade] or self.graph.skills
            ready = [min(taught, key=lambda s: (mastery.get(s.id, 0.0), s.grade_min)).id]

        def readiness(sid: str) -> float:
            pre = self.graph.get(sid).prerequisites
            return sum(mastery.get(p, 0.0) for p in pre) / len(pre) if pre else 1.0

        def tier(sid: str) -> tuple[int, int]:
            return (0 if sid in mastery else 1, self.graph.get(sid).grade_min)

        ranked = sorted(ready, key=lambda s: (tier(s), -readiness(s), self.graph.topo_index(s)))
        pool = self._candidates(grade, interests)
        top = [s for s in ranked if tier(s) == tier(ranked[0])]
        picks = {
            s: self._best_passage(
                self.graph.get(s), pool, grade, interests, exclude_passages, student_key
            )
            for s in top
        }
        # interests break ties between equally good skills (the cold start case)
        chosen = min(
            top,
            key=lambda s: (picks[s][0] is None, -len(picks[s][1]), ranked.index(s)),
        )
        if kind == "new" and chosen in mastery:
            kind = "continue"
        skill = self.graph.get(chosen)
        passage, matched = picks[chosen]
        reason = self._reason(skill, kind, remedial, mastery, grade, passage, matched, student_name)
        return Recommendation(
            kind=kind,
            skill_id=skill.id,
            skill_name=skill.name,
            strand=skill.strand,
            mastery=mastery.get(skill.id),
            passage_id=passage.passage_id if passage else None,
            passage_title=passage.title if passage else None,
            passage_grade=passage.grade if passage else None,
            matched_topics=matched,
            reason=reason,
            alternatives=[s for s in ranked if s != chosen][:3],
        )

    def _reason(
        self,
        skill: Skill,
        kind: Kind,
        remedial: bool,
        mastery: Mapping[str, float],
        grade: int,
        passage: Passage | None,
        matched: list[str],
        student_name: str | None,
    ) -> str:
        if kind == "continue":
            head = f"Keep practising '{skill.name}' (mastery {_fmt(mastery[skill.id])}, target {_fmt(self.threshold)})"
        elif kind == "review":
            head = f"Everything ready at grade {grade} is mastered; review '{skill.name}' (mastery {_fmt(mastery.get(skill.id, 0.0))})"
        else:
            pre = [
                f"'{self.graph.get(p).name}' is mastered ({_fmt(mastery.get(p, 0.0))})"
                for p in skill.prerequisites
            ]
            why = " and ".join(pre) if pre else f"it is a starting skill for grade {grade}"
            band = f" (taught in grades {skill.grade_min}-{skill.grade_max})" if remedial else ""
            head = f"Ready for '{skill.name}'{band}: {why}"
        if passage is None:
            return f"{head}; no suitable passage is available yet."
        tail = f"'{passage.title}' is at grade {passage.grade}"
        if matched:
            who = student_name or "the student"
            tail += f" and about {' and '.join(matched[:2])}, which {who} likes"
        elif passage.topics:
            tail += f" and about {' and '.join(passage.topics[:2])}"
        return f"{head}; {tail}."


# --- LangChain tool ---------------------------------------------------------------------


class _RecommendArgs(BaseModel):
    grade: int = Field(ge=0, le=12, description="The student's grade (0 = kindergarten)")
    interests: list[str] = Field(default_factory=list, description="Topics the student likes")
    student_id: str | None = Field(
        default=None, description="Pseudonymous student id: mastery is read from the store"
    )
    mastery: dict[str, float] | None = Field(
        default=None, description="P(mastered) per skill id, when no student_id is given"
    )
    exclude_passages: list[str] = Field(
        default_factory=list, description="Passage ids already read"
    )


def make_recommender_tool(recommender: Recommender, store: MasteryStore | None = None) -> BaseTool:
    """The next-step tool; reasons name no student (the model sees 'the student')."""

    def recommend_next_step(
        grade: int,
        interests: list[str] | None = None,
        student_id: str | None = None,
        mastery: dict[str, float] | None = None,
        exclude_passages: list[str] | None = None,
    ) -> dict[str, object]:
        if student_id is not None and store is not None:
            mastery = store.get(student_id)
        rec = recommender.recommend(
            mastery or {}, grade, interests or [], exclude_passages=exclude_passages or [],
            student_key=student_id,
        )  # fmt: skip
        return rec.model_dump()

    return StructuredTool.from_function(
        recommend_next_step,
        name="recommend_next_step",
        description=(
            "Choose the next reading skill for a student (from the skills they are ready for) "
            "and a passage at their reading level, with a one-line reason for the teacher."
        ),
        args_schema=_RecommendArgs,
    )
