"""Experiments over HTTP: admin-only, tenant-scoped, outcomes under the student's arm,
a report with effect, CI and p at the planned horizon; tutor turns record outcomes and
replies carry the model versions that made them."""

from __future__ import annotations

import numpy as np
from apitest_support import World, assert_problem

from readloom.mlops.experiments import assign


def _create(w: World, **body) -> dict:
    payload = {"name": "hint ladder", "factor": "policy", "metric": "next_attempt_correct",
               "arms": [{"name": "control", "config": {"hint_ladder": 2}},
                        {"name": "long", "config": {"hint_ladder": 4}}],
               "baseline": 0.3, "mde": 0.3, **body}  # fmt: skip
    r = w.admin.post("/v1/experiments", json=payload)
    assert r.status_code == 201, r.text
    return r.json()


def test_only_admins_create_and_bad_bodies_are_422(world: World) -> None:
    r = world.teacher.post("/v1/experiments", json={"name": "x"})
    assert_problem(r, 403)
    r = world.admin.post(
        "/v1/experiments",
        json={"name": "x", "factor": "policy", "arms": [{"name": "a"}, {"name": "a"}]},
    )
    assert_problem(r, 422)


def test_outcomes_and_report_with_effect_ci_and_p(world: World) -> None:
    exp = _create(world)
    horizon = exp["planned_students_per_arm"]
    assert 20 <= horizon <= 60
    rng = np.random.default_rng(0)
    arms = ["control", "long"]
    for i in range(2 * horizon + 40):
        student = f"x{i}"
        arm = assign(world.tenant, exp["id"], student, arms)
        value = int(rng.random() < (0.85 if arm == "long" else 0.3))
        r = world.partner.post(
            f"/v1/experiments/{exp['id']}/outcomes",
            json={"student_id": student, "metric": "next_attempt_correct", "value": value},
        )
        assert r.status_code == 201 and r.json()["arm"] == arm, r.text
    r = world.teacher.get(f"/v1/experiments/{exp['id']}/report")
    assert_problem(r, 403)
    assert_problem(world.stranger.get(f"/v1/experiments/{exp['id']}/report"), 404)
    report = world.admin.get(f"/v1/experiments/{exp['id']}/report").json()
    primary = report["metrics"]["next_attempt_correct"]
    (c,) = primary["comparisons"]
    assert c["method"] == "barnard_exact" and c["ci_low"] < c["effect"] < c["ci_high"]
    if primary["horizon_reached"]:
        assert c["p_value"] < 0.001 and "long differs from control" in report["verdict"]
    else:
        assert "no verdict" in report["verdict"]
    r = world.partner.post(f"/v1/experiments/{exp['id']}/outcomes",
                           json={"student_id": "x1", "metric": "joy", "value": 1})  # fmt: skip
    assert_problem(r, 422)


def test_tutor_turns_record_outcomes_and_replies_carry_model_versions(world: World) -> None:
    exp = _create(world, name="turns")
    r = world.partner.post(
        "/v1/sessions", json={"student_id": "s1", "grade": 4, "passage_id": world.passage_id}
    )
    sid = r.json()["id"]
    r = world.student.post(f"/v1/sessions/{sid}/messages", json={"text": "Who is in the story?"})
    assert r.status_code == 200, r.text
    prov = r.json()["provenance"]
    assert set(prov["models"]) == {"mastery", "injection", "readability"}
    assert prov["prompt"]
    report = world.admin.get(f"/v1/experiments/{exp['id']}/report").json()
    assert report["metrics"]["cost_per_turn_usd"]["students"] == {
        assign(world.tenant, exp["id"], "s1", ["control", "long"]): 1,
        ("long" if assign(world.tenant, exp["id"], "s1", ["control", "long"]) == "control"
         else "control"): 0,
    }  # fmt: skip
