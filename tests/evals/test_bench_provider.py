"""The load benchmark's fake provider answers as a good model would, so the benchmark
measures turns, not retries: its tutoring replies pass the evaluator (grounded, no
leak, no repeat within a session), its verdicts parse as the judge's schema."""

from __future__ import annotations

import pytest
from bench_load import grounded_reply, judge_verdict

from readloom.agents.evaluator import check_tutor_draft
from readloom.agents.grader import JudgeVerdict
from readloom.prompts.loader import load_prompt
from readloom.state import Draft, Plan, Question, Turn

EXCERPTS = (
    "Tobias climbed the winding stairs of the lighthouse every evening. "
    "When the storm broke the window, he lit the spare lantern and kept watch."
)
QUESTION = Question(
    question="What did Tobias light when the window broke?",
    type="what",
    answer="the spare lantern",
    evidence="When the storm broke the window, he lit the spare lantern and kept watch.",
    skill="ask_answer_questions",
)


def _messages(prompt: str, tag: str) -> tuple[str, str]:
    values = {
        "grade": 4, "passage_title": "The Lighthouse Keeper", "excerpts": EXCERPTS,
        "question": QUESTION.question, "answer": QUESTION.answer, "evidence": QUESTION.evidence,
        "move": "hint", "hint_level": 1, "student_correct": "no",
        "student_message": f"I think the main character is brave because of the storm {tag}",
    }  # fmt: skip
    system, user = load_prompt(prompt).render(**values)
    return system.content, user.content


@pytest.mark.parametrize("prompt", ["tutor_reply", "explain"])
def test_a_sessions_replies_pass_the_evaluator_turn_after_turn(prompt):
    history: list[Turn] = []
    for t in "abcdefghij":
        text = grounded_reply(*_messages(prompt, f"benchbq{t}"))
        state = {
            "current_question": QUESTION, "plan": Plan(intent="answer_attempt", move="hint", tools=[]),
            "history": history, "spans": [{"text": EXCERPTS}], "grade": 4,
        }  # fmt: skip
        assert check_tutor_draft(Draft(text=text), state) == [], text
        history.append(Turn(role="tutor", text=text))


def test_verdicts_follow_the_judges_schema_and_the_key():
    user = load_prompt("grade").render(
        passage_excerpt=EXCERPTS, question=QUESTION.question, answer=QUESTION.answer,
        evidence=QUESTION.evidence, response="he lit the lantern",
    )[1].content  # fmt: skip
    assert JudgeVerdict.model_validate(judge_verdict(user)).verdict == "correct"
    wrong = user.replace("he lit the lantern", "he went to sleep")
    assert JudgeVerdict.model_validate(judge_verdict(wrong)).verdict == "incorrect"
