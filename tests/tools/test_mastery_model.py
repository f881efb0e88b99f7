"""BKT math: the online update is the textbook formula; cold start uses prerequisites."""

from __future__ import annotations

from pathlib import Path

import pytest

from readloom.errors import InputError
from readloom.tools.mastery_model import (
    BKTModel,
    BKTParams,
    cold_start_prior,
    p_correct,
    update,
)
from readloom.tools.prerequisites import SkillGraph

PARAMS = BKTParams(prior=0.3, learn=0.15, guess=0.2, slip=0.1, forget=0.05)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("correct", [True, False])
def test_update_matches_bkt_formula(p: float, correct: bool) -> None:
    g, s, t, f = PARAMS.guess, PARAMS.slip, PARAMS.learn, PARAMS.forget
    if correct:
        posterior = p * (1 - s) / (p * (1 - s) + (1 - p) * g)
    else:
        posterior = p * s / (p * s + (1 - p) * (1 - g))
    expected = posterior * (1 - f) + (1 - posterior) * t
    assert update(p, correct, PARAMS) == pytest.approx(expected, abs=1e-12)
    assert update(p, int(correct), PARAMS) == update(p, correct, PARAMS)


def test_update_moves_the_right_way() -> None:
    p = 0.4
    assert update(p, True, PARAMS) > p
    assert update(p, False, PARAMS) < update(p, True, PARAMS)
    assert p_correct(0.0, PARAMS) == pytest.approx(PARAMS.guess)
    assert p_correct(1.0, PARAMS) == pytest.approx(1 - PARAMS.slip)


@pytest.mark.parametrize(
    "kwargs", [{"guess": 0.5}, {"slip": 0.7}, {"prior": 1.5}, {"learn": -0.1}, {"guess": 0.0}]
)
def test_params_are_bounded(kwargs: dict) -> None:
    base = {"prior": 0.3, "learn": 0.1, "guess": 0.2, "slip": 0.1} | kwargs
    with pytest.raises(InputError):
        BKTParams(**base)


def test_cold_start_blends_prior_with_prerequisite_mastery(graph: SkillGraph) -> None:
    params = BKTParams(prior=0.2, learn=0.1, guess=0.2, slip=0.1)
    # compare_points_of_view needs identify_narrator and character_traits
    strong = {"identify_narrator": 0.98, "character_traits": 0.96}
    weak = {"identify_narrator": 0.2, "character_traits": 0.1}
    p_strong = cold_start_prior("compare_points_of_view", strong, graph, params)
    p_weak = cold_start_prior("compare_points_of_view", weak, graph, params)
    assert p_strong == pytest.approx(0.5 * 0.2 + 0.5 * 0.97)
    assert p_weak == pytest.approx(0.5 * 0.2 + 0.5 * 0.15)
    # nothing known about the prerequisites (or no graph): the fitted prior
    assert cold_start_prior("compare_points_of_view", {}, graph, params) == 0.2
    assert cold_start_prior("compare_points_of_view", strong, None, params) == 0.2
    assert cold_start_prior("ask_answer_questions", strong, graph, params) == 0.2


def test_model_json_round_trip(tmp_path: Path) -> None:
    model = BKTModel({"central_idea": PARAMS}, forgets=True, info={"restarts": 3})
    path = tmp_path / "m" / "model.json"
    model.save(path)
    loaded = BKTModel.load(path)
    assert loaded.skills == model.skills
    assert loaded.forgets and loaded.info == {"restarts": 3}
    assert loaded.params("unseen") == model.default


def test_model_load_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        BKTModel.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other", "version": 1}')
    with pytest.raises(InputError, match="readloom-bkt"):
        BKTModel.load(bad)
