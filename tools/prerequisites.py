"""The reading-skill prerequisite graph: which skills a student is ready for next.

The graph ships as YAML (``data/skills.yaml``) and is validated when it is loaded, so a
typo in a prerequisite or a cycle fails at startup with the bad edge named, never later
as a skill that can never be unlocked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Literal

import yaml
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from readloom.errors import InputError, NotFound
from readloom.retrieval.models import Genre

log = logging.getLogger(__name__)

Strand = Literal["key_ideas", "craft_structure", "integration", "vocabulary"]
STRAND_NAMES: dict[str, str] = {
    "key_ideas": "key ideas and details",
    "craft_structure": "craft and structure",
    "integration": "integration of knowledge",
    "vocabulary": "vocabulary",
}
MASTERY_THRESHOLD = 0.95


class SkillGraphError(InputError):
    """The skill graph file is invalid; the message names the offending skill or edge."""

    code = "invalid_skill_graph"


class Skill(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    strand: Strand
    grades: tuple[int, int] = Field(description="Grade band (min, max) where it is taught")
    description: str = ""
    prerequisites: tuple[str, ...] = ()
    genres: tuple[Genre, ...] | None = Field(
        default=None, description="Passage genres that suit practising it (None: any)"
    )

    @model_validator(mode="after")
    def _band(self) -> Skill:
        lo, hi = self.grades
        if not 0 <= lo <= hi <= 12:
            raise ValueError(f"grades must satisfy 0 <= min <= max <= 12, got {list(self.grades)}")
        return self

    @property
    def grade_min(self) -> int:
        return self.grades[0]

    @property
    def grade_max(self) -> int:
        return self.grades[1]

    def fits_grade(self, grade: int) -> bool:
        return self.grades[0] <= grade <= self.grades[1]

    def suits(self, genre: str) -> bool:
        return self.genres is None or genre in self.genres


class _SkillFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    skills: list[Skill]


class SkillGraph:
    """An immutable, validated DAG of skills (edges run prerequisite -> dependent)."""

    def __init__(self, skills: Iterable[Skill]):
        by_id: dict[str, Skill] = {}
        for skill in skills:
            if skill.id in by_id:
                raise SkillGraphError(f"skill '{skill.id}' is defined twice")
            by_id[skill.id] = skill
        for skill in by_id.values():
            for pre in skill.prerequisites:
                if pre not in by_id:
                    raise SkillGraphError(f"skill '{skill.id}' lists unknown prerequisite '{pre}'")
        sorter = TopologicalSorter({s.id: s.prerequisites for s in by_id.values()})
        try:
            order = list(sorter.static_order())
        except CycleError as exc:
            cycle = list(exc.args[1])  # each node is a prerequisite of the next one
            raise SkillGraphError(
                "cycle: " + " -> ".join(cycle) + " (each skill is a prerequisite of the next; "
                f"skill '{cycle[-1]}' lists prerequisite '{cycle[-2]}')"
            ) from None
        self._skills = by_id
        self._order = {sid: i for i, sid in enumerate(order)}
        dependents: dict[str, list[str]] = {sid: [] for sid in by_id}
        for skill in by_id.values():
            for pre in skill.prerequisites:
                dependents[pre].append(skill.id)
        self._dependents = {
            k: tuple(sorted(v, key=self._order.__getitem__)) for k, v in dependents.items()
        }

    # --- loading --------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | str) -> SkillGraph:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SkillGraphError(
                f"cannot read skill graph {path.name}: {type(exc).__name__}"
            ) from exc
        return cls.from_dict(raw, source=path.name)

    @classmethod
    def from_dict(cls, raw: object, *, source: str = "skill graph") -> SkillGraph:
        try:
            parsed = _SkillFile.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SkillGraphError(f"{source}: {where}: {first['msg']}") from None
        graph = cls(parsed.skills)
        log.debug("skill_graph_loaded skills=%d", len(graph))
        return graph

    # --- queries --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._skills)

    def __contains__(self, skill: object) -> bool:
        return skill in self._skills

    @property
    def skills(self) -> list[Skill]:
        """All skills, prerequisites before the skills that need them."""
        return [self._skills[sid] for sid in self._order]

    def get(self, skill: str) -> Skill:
        try:
            return self._skills[skill]
        except KeyError:
            raise NotFound(f"unknown skill '{skill}'") from None

    def prerequisites(self, skill: str, transitive: bool = False) -> list[str]:
        """Direct prerequisites, or all ancestors (in topological order) when transitive."""
        direct = self.get(skill).prerequisites
        if not transitive:
            return list(direct)
        seen: set[str] = set()
        stack = list(direct)
        while stack:
            sid = stack.pop()
            if sid not in seen:
                seen.add(sid)
                stack.extend(self._skills[sid].prerequisites)
        return sorted(seen, key=self._order.__getitem__)

    def unlocked(self, skill: str) -> list[str]:
        """Skills that list ``skill`` as a direct prerequisite."""
        self.get(skill)
        return list(self._dependents[skill])

    def is_mastered(
        self, skill: str, mastery: Mapping[str, float], threshold: float = MASTERY_THRESHOLD
    ) -> bool:
        return mastery.get(skill, 0.0) >= threshold

    def frontier(
        self,
        mastery: Mapping[str, float],
        grade: int,
        threshold: float = MASTERY_THRESHOLD,
        *,
        below_band: bool = False,
    ) -> list[str]:
        """Skills not yet mastered whose prerequisites all are and whose grade band fits.

        ``below_band`` also admits skills whose band ended before ``grade`` (remediation
        for an older student who never mastered an early skill). A missing skill in
        ``mastery`` counts as not mastered.
        """
        ready = []
        for skill in self.skills:
            lo, hi = skill.grades
            if grade < lo or (grade > hi and not below_band):
                continue
            if mastery.get(skill.id, 0.0) >= threshold:
                continue
            if all(mastery.get(p, 0.0) >= threshold for p in skill.prerequisites):
                ready.append(skill.id)
        return ready

    def topo_index(self, skill: str) -> int:
        self.get(skill)
        return self._order[skill]


# --- LangChain tools --------------------------------------------------------------------


class _SkillArgs(BaseModel):
    skill: str = Field(description="Skill id, e.g. 'central_idea'")
    transitive: bool = Field(default=False, description="Include prerequisites of prerequisites")


class _UnlockArgs(BaseModel):
    skill: str = Field(description="Skill id, e.g. 'retell_key_details'")


class _FrontierArgs(BaseModel):
    mastery: dict[str, float] = Field(
        default_factory=dict, description="P(mastered) per skill id; missing skills count as 0"
    )
    grade: int = Field(ge=0, le=12, description="The student's grade (0 = kindergarten)")
    threshold: float = Field(default=MASTERY_THRESHOLD, gt=0, le=1)


def _summary(skill: Skill) -> dict[str, object]:
    return {
        "id": skill.id,
        "name": skill.name,
        "strand": skill.strand,
        "grades": list(skill.grades),
    }


def make_prerequisite_tools(graph: SkillGraph) -> list[BaseTool]:
    """Tools the executor binds: prerequisites, unlocked skills and the frontier."""

    def skill_prerequisites(skill: str, transitive: bool = False) -> list[dict[str, object]]:
        return [_summary(graph.get(s)) for s in graph.prerequisites(skill, transitive=transitive)]

    def skills_unlocked(skill: str) -> list[dict[str, object]]:
        return [_summary(graph.get(s)) for s in graph.unlocked(skill)]

    def skill_frontier(
        grade: int, mastery: dict[str, float] | None = None, threshold: float = MASTERY_THRESHOLD
    ) -> list[dict[str, object]]:
        ids = graph.frontier(mastery or {}, grade, threshold)
        return [_summary(graph.get(s)) for s in ids]

    return [
        StructuredTool.from_function(
            skill_prerequisites,
            name="skill_prerequisites",
            description="List the reading skills that should be mastered before the given skill.",
            args_schema=_SkillArgs,
        ),
        StructuredTool.from_function(
            skills_unlocked,
            name="skills_unlocked",
            description="List the reading skills that the given skill is a direct prerequisite of.",
            args_schema=_UnlockArgs,
        ),
        StructuredTool.from_function(
            skill_frontier,
            name="skill_frontier",
            description=(
                "List the skills a student is ready for: not yet mastered, all prerequisites "
                "mastered, and taught at the student's grade."
            ),
            args_schema=_FrontierArgs,
        ),
    ]
