"""Per-student mastery persists in SQLite under READLOOM_HOME; cold start; deletion; tool."""

from __future__ import annotations

import pytest

from readloom.errors import InputError
from readloom.settings import Settings
from readloom.tools.mastery import MasteryStore, make_mastery_tools
from readloom.tools.mastery_model import BKTModel, BKTParams, update
from readloom.tools.prerequisites import SkillGraph

PARAMS = BKTParams(prior=0.2, learn=0.2, guess=0.2, slip=0.1)


@pytest.fixture
def store(settings: Settings, graph: SkillGraph) -> MasteryStore:
    return MasteryStore(settings, model=BKTModel(default=PARAMS), graph=graph)


def test_record_applies_the_update_and_persists(
    settings: Settings, graph: SkillGraph, store: MasteryStore
) -> None:
    p1 = store.record("s1", "ask_answer_questions", True)
    assert p1 == pytest.approx(update(PARAMS.prior, True, PARAMS))
    p2 = store.record("s1", "ask_answer_questions", False)
    assert p2 == pytest.approx(update(p1, False, PARAMS))
    assert store.path == settings.home / "readloom.sqlite"  # the one database
    reopened = MasteryStore(settings, model=BKTModel(default=PARAMS), graph=graph)
    assert reopened.get("s1") == {"ask_answer_questions": pytest.approx(p2)}
    assert reopened.get("someone_else") == {}
    events = reopened.history("s1")
    assert [(e.skill, e.correct) for e in events] == [
        ("ask_answer_questions", True),
        ("ask_answer_questions", False),
    ]
    assert events[0].p_before == pytest.approx(PARAMS.prior)
    assert events[1].p_before == pytest.approx(p1) and events[1].p_after == pytest.approx(p2)


def test_three_correct_answers_reach_mastery(store: MasteryStore) -> None:
    for _ in range(3):
        p = store.record("s1", "retell_key_details", 1)
    assert p >= 0.95


def test_cold_start_uses_prerequisite_mastery(store: MasteryStore) -> None:
    for _ in range(4):
        store.record("strong", "retell_key_details", True)
        store.record("weak", "retell_key_details", False)
    strong, weak = store.estimate("strong", "central_idea"), store.estimate("weak", "central_idea")
    assert strong > 0.5 > weak
    assert weak == pytest.approx(0.5 * PARAMS.prior + 0.5 * store.get("weak")["retell_key_details"])
    # the first recorded response starts from that prior
    store.record("strong", "central_idea", True)
    assert store.history("strong")[-1].p_before == pytest.approx(strong)
    assert store.estimate("nobody", "central_idea") == PARAMS.prior


def test_delete_forgets_the_student(store: MasteryStore) -> None:
    store.record("s1", "vocab_in_context", True)
    store.record("s2", "vocab_in_context", True)
    assert store.delete("s1") == 2  # one mastery row, one response row
    assert store.get("s1") == {} and store.history("s1") == []
    assert "vocab_in_context" in store.get("s2")


def test_unknown_skill_and_bad_correct_are_rejected(store: MasteryStore) -> None:
    with pytest.raises(InputError, match="unknown skill 'nope'"):
        store.record("s1", "nope", True)
    with pytest.raises(InputError, match="0 or 1"):
        store.record("s1", "central_idea", 2)
    assert store.get("s1") == {}


def test_fitted_model_file_under_home_is_used(settings: Settings, graph: SkillGraph) -> None:
    fitted = BKTParams(prior=0.6, learn=0.3, guess=0.1, slip=0.05)
    settings.ensure_home()
    BKTModel({"central_idea": fitted}).save(settings.home / "mastery_model.json")
    store = MasteryStore(settings, graph=graph)
    assert store.record("s1", "central_idea", True) == pytest.approx(update(0.6, True, fitted))


def test_mastery_tool(store: MasteryStore) -> None:
    (tool,) = make_mastery_tools(store)
    assert tool.args_schema.model_json_schema()["required"] == ["student_id"]
    store.record("s1", "retell_key_details", True)
    assert set(tool.invoke({"student_id": "s1"})) == {"retell_key_details"}
    out = tool.invoke({"student_id": "s1", "skills": ["central_idea"]})
    assert 0 < out["central_idea"] < 1
