"""Experiment arms the tutor applies: what each knob does, how a learner's arms of several
experiments merge, and that a config the tutor cannot read never fails a child's turn."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from readloom.agents.executor import _next_question
from readloom.graph import make_after_grader
from readloom.mlops import experiments
from readloom.mlops.experiments import Arm, ExperimentIn, assign
from readloom.settings import get_settings
from readloom.state import Plan, Question, TutorPolicy
from readloom.storage.db import Database, migrate
from readloom.storage.models import Tenant
from readloom.storage.models_mlops import Experiment
from readloom.tools.mastery import MasteryStore


@pytest.mark.parametrize(
    ("ladder", "rungs"),
    [(None, [0, 1, 2, 3]), (4, [0, 1, 2, 3]), (3, [0, 2, 3, 3]), (2, [0, 3, 3, 3]),
     (1, [3, 3, 3, 3])],
)  # fmt: skip
def test_a_shorter_hint_ladder_reaches_the_blanked_evidence_sooner(ladder, rungs) -> None:
    assert [TutorPolicy(hint_ladder=ladder).rung(k) for k in range(4)] == rungs


def test_tries_before_worked_moves_the_never_stuck_limit() -> None:
    router = make_after_grader(3)
    plan = Plan(intent="answer_attempt", move="hint", tools=[])
    quick = plan.model_copy(update={"policy": TutorPolicy(tries_before_worked=1)})
    assert router({"plan": plan, "tries": 1}) == "executor"
    assert router({"plan": quick, "tries": 1}) == "worked_explanation"
    assert router({"plan": quick.model_copy(update={"move": "affirm"}), "tries": 1}) == "executor"


def _q(text: str, skill: str) -> Question:
    return Question(question=text, type="key_detail", answer="a", evidence="e", skill=skill)


def test_question_order_passage_asks_in_the_texts_order() -> None:
    settings = get_settings()
    migrate(settings)
    store = MasteryStore(settings)
    try:
        for c in (1, 1, 1, 1, 1):
            store.record("t/s1", "story_elements", c)  # strong on the first question's skill
        svc = SimpleNamespace(mastery=store)
        pool = [_q("first?", "story_elements"), _q("second?", "vocabulary_context")]
        frontier = _next_question(svc, pool, [], "t/s1")
        in_order = _next_question(svc, pool, [], "t/s1", TutorPolicy(question_order="passage"))
    finally:
        store.close()
    assert frontier.question == "second?"  # least mastered first
    assert in_order.question == "first?"


def test_arm_configs_are_tutor_policies() -> None:
    assert Arm(name="a", config={"hint_ladder": 2}).config == {"hint_ladder": 2}
    for bad in ({"hintladder": 2}, {"prompt": "tutor_reply@v99"}, {"provider": "Not A Name"}):
        with pytest.raises(ValueError):
            Arm(name="a", config=bad)


def test_a_learners_arms_merge_oldest_experiment_first_and_bad_configs_are_skipped() -> None:
    settings = get_settings()
    migrate(settings)

    async def go() -> tuple[experiments.Assignment, list[str]]:
        db = Database(settings)
        try:
            async with db.writer() as s:
                s.add(Tenant(id="d9", home_page="https://d9.example.org"))
                await s.flush()
                ids = []
                for name, cfg in (("ladder", {"hint_ladder": 2, "tries_before_worked": 2}),
                                  ("tries", {"tries_before_worked": 4,
                                             "question_order": "passage"})):  # fmt: skip
                    body = ExperimentIn(name=name, factor="policy",
                                        arms=[Arm(name="a", config=cfg), Arm(name="b", config=cfg)])  # fmt: skip
                    exp = await experiments.create(s, "d9", body)
                    exp.created_at = datetime(2026, 1, 1 + len(ids), tzinfo=UTC)  # oldest first
                    ids.append(exp.id)
                    await s.flush()
                # a row stored before configs were checked: its knobs are left out
                s.add(Experiment(id="exp_legacy", tenant_id="d9", name="old", factor="policy",
                                 arms=[{"name": "a", "config": {"hint_lader": 1}},
                                       {"name": "b", "config": {"hint_lader": 1}}],
                                 metric="next_attempt_correct",
                                 created_at=datetime(2026, 1, 9, tzinfo=UTC)))  # fmt: skip
                ids.append("exp_legacy")
            async with db.reader() as s:
                return await experiments.assignment(s, "d9", "kid1"), ids
        finally:
            await db.dispose()

    got, ids = asyncio.run(go())
    assert set(got.arms) == set(ids)
    assert got.arms == {i: assign("d9", i, "kid1", ["a", "b"]) for i in ids}
    # the older experiment keeps tries_before_worked=2; the newer adds question_order
    assert got.policy == TutorPolicy(hint_ladder=2, tries_before_worked=2, question_order="passage")
