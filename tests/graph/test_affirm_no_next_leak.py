"""Praise for a right answer may quote its sentence, but never the next question's answer."""

from readloom.agents.executor import _without_leaks
from readloom.state import Question

NEXT = Question(
    question="Who was fascinated by the ideas behind the device?", type="who", answer="Ada",
    evidence="In 1833, a seventeen-year-old named Ada met him.", skill="ask_answer_questions",
)  # fmt: skip
PRAISE = (
    'Great work! You found the detail right in the text. The sentence that begins "In 1833, '
    "a seventeen-year-old named Ada…\" backs you up. Let's keep going."
)


def test_a_quote_that_answers_the_next_question_is_dropped_and_the_praise_kept():
    out = _without_leaks(PRAISE, NEXT)
    assert "Ada" not in out
    assert out.startswith("Great work!") and out.endswith("Let's keep going.")


def test_praise_that_gives_nothing_away_is_unchanged():
    other = NEXT.model_copy(update={"answer": "the engine", "question": "What did he build?"})
    assert _without_leaks(PRAISE, other) == PRAISE
    assert _without_leaks(PRAISE, None) == PRAISE
