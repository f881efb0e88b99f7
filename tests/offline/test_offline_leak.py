"""answer_leaks: the evaluator's and eval harness's check that a reply keeps the answer back."""

from __future__ import annotations

import pytest

from readloom.llm.offline.leak import answer_leaks, key_terms

WHO = "Who climbed the tower at dusk?"
WHY = "Why did Tobias climb the tower?"
SAMPLE = "Why could a small sample give misleading results?"

CASES = [
    # (reply, answer, question, leaks)
    ("Yes! Tobias climbed it.", "Tobias", WHO, True),
    ("It was TOBIAS, wasn't it?", "Tobias", WHO, True),
    ("Tobias's lantern helped.", "Tobias", WHO, True),
    ("Look at the first paragraph. Which person do you see?", "Tobias", WHO, False),
    ("Who climbed the tower at dusk? Look again.", "Tobias", WHO, False),
    ("It happened at Dusk.", "at dusk", "When did Tobias climb the tower?", True),
    ("Look for a time of day.", "at dusk", "When did Tobias climb the tower?", False),
    ("He saw the harbors from the top.", "the harbor", "What did Tobias see?", True),
    ("He wanted to see the harbor.", "because he wanted to see the harbor", WHY, True),
    ("Think about what he wanted.", "because he wanted to see the harbor", WHY, False),
    ("What might change the average?", "because one unusual plant might change the average", SAMPLE, False),
    ("One unusual plant could do it.", "because one unusual plant might change the average", SAMPLE, True),
    ("It was <PERSON_1>!", "<PERSON_1>", WHO, True),
    ("It was <PERSON_2>!", "<PERSON_1>", WHO, False),
    ("She planted twelve seeds.", "twelve", "How many seeds did Priya plant?", True),
    ("It happened in 1850.", "in 1850", "When was the lighthouse built?", True),
    ("Climbing is hard work.", "climbed the tower", "What did Tobias do at the tower?", True),
    ("What happened at the tower?", "climbed the tower", "What did Tobias do at the tower?", False),
    ("Anything at all.", "", WHO, False),
    ("Yes, you are right.", "yes", "Did Tobias climb the tower?", False),
]  # fmt: skip


@pytest.mark.parametrize(("reply", "answer", "question", "leaks"), CASES)
def test_answer_leaks(nlp, reply, answer, question, leaks):
    assert answer_leaks(reply, answer, question) is leaks


def test_words_the_question_already_gives_do_not_count(nlp):
    answer = "the old lighthouse"
    assert answer_leaks("Which lighthouse?", answer)  # no question: every word counts
    assert not answer_leaks("Which lighthouse?", answer, "Which old lighthouse did Rosa climb?")
    assert key_terms(answer, "Which old lighthouse did Rosa climb?") == []


def test_key_terms_are_lemmas_without_function_words(nlp):
    terms = key_terms("because he wanted to see the harbors", WHY)
    assert [k.lemma for k in terms] == ["want", "see", "harbor"]
    assert {k.pos for k in terms} == {"VERB", "NOUN"}


def test_words_spacy_calls_stop_words_still_count(nlp):
    """spaCy's stop list holds 'top', 'front' and 'twelve': each can be a whole answer."""
    assert answer_leaks("Go to the top!", "at the top", "Where did Tobias find the beacon?")
    assert answer_leaks("Look at the front.", "the front", "Where did they sit?")
