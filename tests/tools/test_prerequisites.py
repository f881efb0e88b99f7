"""Skill graph: validation names the bad edge; queries; the frontier; LangChain tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from readloom.errors import NotFound
from readloom.tools.prerequisites import SkillGraph, SkillGraphError, make_prerequisite_tools

REQUIRED = [
    "ask_answer_questions",
    "retell_key_details",
    "sequence_events",
    "cause_effect",
    "central_idea",
    "vocab_in_context",
    "character_traits",
    "make_inferences",
    "identify_narrator",
    "compare_points_of_view",
]


def _skill(sid: str, pre: list[str], grades: tuple[int, int] = (1, 5)) -> dict:
    return {
        "id": sid,
        "name": sid.replace("_", " "),
        "strand": "key_ideas",
        "grades": list(grades),
        "prerequisites": pre,
    }


def test_shipped_graph_has_the_skills_other_code_uses(graph: SkillGraph) -> None:
    ids = {s.id for s in graph.skills}
    assert set(REQUIRED) <= ids
    assert 20 <= len(graph) <= 30
    assert {s.strand for s in graph.skills} == {
        "key_ideas",
        "craft_structure",
        "integration",
        "vocabulary",
    }
    assert "retell_key_details" in graph.prerequisites("central_idea", transitive=True)
    assert "identify_narrator" in graph.prerequisites("compare_points_of_view")


def test_skills_come_prerequisites_first(graph: SkillGraph) -> None:
    seen: set[str] = set()
    for skill in graph.skills:
        assert set(skill.prerequisites) <= seen, skill.id
        seen.add(skill.id)


@pytest.mark.parametrize(
    ("skills", "message"),
    [
        ([_skill("a", ["b"]), _skill("b", ["a"])], "cycle: a -> b -> a"),
        ([_skill("a", ["c"]), _skill("b", ["a"]), _skill("c", ["b"])], "cycle: a -> b -> c -> a"),
        ([_skill("a", ["a"])], "cycle: a -> a"),
        ([_skill("a", []), _skill("b", ["a", "y"])], "skill 'b' lists unknown prerequisite 'y'"),
        ([_skill("a", []), _skill("a", [])], "skill 'a' is defined twice"),
        ([_skill("a", [], grades=(5, 2))], "grades must satisfy"),
    ],
)
def test_invalid_graphs_name_the_problem(skills: list[dict], message: str) -> None:
    with pytest.raises(SkillGraphError) as err:
        SkillGraph.from_dict({"skills": skills})
    assert message in str(err.value)


def test_cycle_error_names_a_real_edge() -> None:
    skills = [_skill("x", []), _skill("a", ["x", "b"]), _skill("b", ["a"])]
    with pytest.raises(SkillGraphError) as err:
        SkillGraph.from_dict({"skills": skills})
    text = str(err.value)
    assert "x" not in text.split("(")[0]  # only the skills on the cycle are listed
    assert ("skill 'a' lists prerequisite 'b'" in text) or (
        "skill 'b' lists prerequisite 'a'" in text
    )


def test_load_from_yaml_file_rejects_unknown_fields(tmp_path: Path) -> None:
    path = tmp_path / "skills.yaml"
    path.write_text(
        "skills:\n  - {id: a, name: A, strand: key_ideas, grades: [1, 2], prereqs: []}\n"
    )
    with pytest.raises(SkillGraphError, match="prereqs"):
        SkillGraph.load(path)


def test_prerequisites_and_unlocked(graph: SkillGraph) -> None:
    assert graph.prerequisites("central_idea") == ["retell_key_details"]
    assert graph.prerequisites("central_idea", transitive=True) == [
        "ask_answer_questions",
        "retell_key_details",
    ]
    assert "central_idea" in graph.unlocked("retell_key_details")
    assert "compare_points_of_view" in graph.unlocked("identify_narrator")
    with pytest.raises(NotFound, match="unknown skill 'nope'"):
        graph.prerequisites("nope")
    with pytest.raises(NotFound):
        graph.unlocked("nope")


def test_frontier() -> None:
    g = SkillGraph.from_dict(
        {
            "skills": [
                _skill("root", [], (1, 3)),
                _skill("mid", ["root"], (2, 4)),
                _skill("late", ["mid"], (4, 8)),
                _skill("other_root", [], (3, 6)),
            ]
        }
    )
    assert g.frontier({}, 2) == ["root"]  # other_root is taught from grade 3
    assert g.frontier({"root": 0.96}, 2) == ["mid"]
    assert g.frontier({"root": 0.94}, 2) == ["root"]  # below the 0.95 threshold
    assert g.frontier({"root": 0.94}, 2, threshold=0.9) == ["mid"]
    assert sorted(g.frontier({"root": 0.99, "mid": 0.99}, 4)) == ["late", "other_root"]
    # band fits: a grade-5 student whose early skill is unmastered sees it only as remediation
    assert g.frontier({}, 5) == ["other_root"]
    assert sorted(g.frontier({}, 5, below_band=True)) == ["other_root", "root"]
    assert g.frontier({"root": 1.0, "mid": 1.0, "late": 1.0, "other_root": 1.0}, 5) == []


def test_langchain_tools(graph: SkillGraph) -> None:
    tools = {t.name: t for t in make_prerequisite_tools(graph)}
    assert set(tools) == {"skill_prerequisites", "skills_unlocked", "skill_frontier"}
    schema = tools["skill_frontier"].args_schema.model_json_schema()
    assert schema["required"] == ["grade"]
    assert schema["properties"]["mastery"]["type"] == "object"
    out = tools["skill_prerequisites"].invoke({"skill": "central_idea", "transitive": True})
    assert [s["id"] for s in out] == ["ask_answer_questions", "retell_key_details"]
    ready = tools["skill_frontier"].invoke(
        {"grade": 3, "mastery": {"ask_answer_questions": 0.97, "retell_key_details": 0.96}}
    )
    ids = [s["id"] for s in ready]
    assert "central_idea" in ids and "retell_key_details" not in ids
    assert [s["id"] for s in tools["skills_unlocked"].invoke({"skill": "identify_narrator"})] == [
        "compare_points_of_view"
    ]
