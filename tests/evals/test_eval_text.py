"""ROUGE-L and the independent leak / support checks, on known pairs."""

from __future__ import annotations

import pytest
from evalkit.text import best_rouge_l, lcs_length, leaks_answer, rouge_l, supported_by, tokens


@pytest.mark.parametrize(
    ("candidate", "reference", "expected"),
    [
        ("the cat sat on the mat", "the cat sat on the mat", 1.0),
        # Lin (2004): LCS "police the gunman" = 3 of 4 tokens each way.
        ("police kill the gunman", "police killed the gunman", 0.75),
        # LCS "the gunman" = 2 of 4.
        ("the gunman kill police", "police killed the gunman", 0.5),
        ("Who had seven sons?", "who HAD seven sons", 1.0),
        ("the cat", "cat the", 0.5),
        # LCS 2 ("a b"); P = 2/2, R = 2/4 -> F = 2PR/(P+R) = 2/3.
        ("a b", "a x b y", 2 / 3),
        ("", "anything", 0.0),
        ("completely different", "nothing shared", 0.0),
    ],
)
def test_rouge_l_known_pairs(candidate, reference, expected):
    assert rouge_l(candidate, reference) == pytest.approx(expected)


def test_rouge_l_is_symmetric_in_f1():
    a, b = "why did the giant build a wall", "why was the giant angry at the children"
    assert rouge_l(a, b) == pytest.approx(rouge_l(b, a))


def test_best_rouge_l_takes_the_closest_reference():
    refs = ["what did the bird eat", "who had seven sons"]
    assert best_rouge_l("who had seven sons", refs) == pytest.approx(1.0)
    assert best_rouge_l("x", []) == 0.0


def test_lcs_and_tokens():
    assert tokens("Mei's kite, RED!") == ["mei", "s", "kite", "red"]
    assert lcs_length(list("abcbdab"), list("bdcaba")) == 4


@pytest.mark.parametrize(
    ("reply", "answer", "question", "leaks"),
    [
        ("The answer is the lamp in the tower.", "the lamp", "What did he light?", True),
        (
            "Look at the second paragraph. What did he carry up?",
            "the lamp",
            "What did he light?",
            False,
        ),
        # every telling content word present, in another order
        (
            "Ships could see once he would light the lamp.",
            "to light the lamp for ships",
            "Why climb?",
            True,
        ),
        # words already in the question do not count as telling
        (
            "Why did Kofi walk home slowly?",
            "Kofi walked home slowly",
            "Why did Kofi walk home slowly?",
            False,
        ),
        ("Great try!", "", "Who?", False),
    ],
)
def test_leak_check(reply, answer, question, leaks):
    assert leaks_answer(reply, answer, question) is leaks


def test_supported_by_needs_answer_words_in_the_evidence():
    evidence = "Kofi put on his green boots and took his dog, Bisa, for a walk."
    assert supported_by("his green boots", evidence)
    assert supported_by("Bisa", evidence)
    assert not supported_by("a red umbrella", evidence)
    assert supported_by("green umbrella", evidence, min_share=0.5)


def test_answer_quoted_by_the_question_itself_is_not_a_reply_leak():
    question = 'In "His key invention was a hand mold", what does "invention" mean?'
    reply = f"Let's look closely. {question}"
    assert not leaks_answer(reply, "a hand mold", question)
    assert leaks_answer("It was a hand mold.", "a hand mold", "What did he invent?")


@pytest.mark.parametrize(
    ("quote", "faithful"),
    [
        ("…however, was fascinated by the ideas behind it", True),
        ("___, however, was fascinated by the ___ behind it.", True),
        ("Ada, however, was bored by the ideas", False),
        ("ADA however WAS fascinated", True),
    ],
)
def test_quote_in_text_allows_gaps_and_elisions(quote, faithful):
    from evalkit.text import quote_in_text

    text = "In 1833 she met Babbage. Ada, however, was fascinated by the ideas behind it."
    assert quote_in_text(quote, text) is faithful
