"""The offline grader on the shipped lighthouse passage: aliases, guesses, numbers, feelings."""

from __future__ import annotations

import pytest

from readloom.llm.offline.grading import OfflineGrader, is_guess_list, normalise
from readloom.retrieval.passages import load_paths
from readloom.settings import Settings


@pytest.fixture(scope="module")
def passage() -> str:
    items = {p.passage_id: p for p in load_paths([Settings().corpus_path])}
    return items["lighthouse-keeper"].text


@pytest.fixture(scope="module")
def grader() -> OfflineGrader:
    return OfflineGrader()


WHO = ("Who climbed the steps of the tower every evening?", "Tobias")
WHY = ("Why did Wren gasp?", "she knew the fishing boats were still out at sea")
STEPS = ("How many steps did the tower have?", "one hundred and twelve")
WORD = ('In "the sky was astonishing", what does the word "astonishing" mean?', "amazing")


@pytest.mark.parametrize(
    ("qa", "response", "verdict", "reason"),
    [
        (WHO, "the keeper", "correct", "alias"),
        (WHO, "the old man who lives in the lighthouse", "correct", "description"),
        (WHO, "tobias or pepper or the grandmother", "not_an_answer", "guess_list"),
        (WHO, "maybe wren maybe tobias", "not_an_answer", "guess_list"),
        (WHO, "Wren", "incorrect", None),
        (WHO, "", "not_an_answer", "empty"),
        (WHO, "idk", "not_an_answer", "no_attempt"),
        (WHO, "hi my name is <PERSON_1>", "not_an_answer", "greeting"),
        (WHY, "becuz the boats were still out on the sea", "correct", None),
        (WHY, "the boats were not out at sea", "incorrect", "negation"),
        (WHY, "this is boring i hate reading", "not_an_answer", "feeling"),
        (WHY, "do you like pizza", "not_an_answer", None),
        (WHY, "what does gasp mean?", "not_an_answer", "question"),
        (STEPS, "112", "correct", None),
        (STEPS, "two hundred", "incorrect", "number"),
        (
            WORD,
            "amazing cuz the text says so",
            "correct",
            None,
        ),  # pointing at the text adds nothing
        (WORD, "i think it's amazing because the story says so", "correct", None),
        (WORD, "tiny cuz the text says so", "incorrect", None),
        (WHO, "Wren said", "incorrect", None),  # a character who said something is content
    ],
)
def test_grades(grader, passage, qa, response, verdict, reason):
    question, key = qa
    got = grader.grade(response, question=question, key=key, passage=passage)
    assert got.verdict == verdict, got
    if reason:
        assert got.reason == reason
    assert 0.0 <= got.confidence <= 1.0


def test_child_spellings_are_normalised():
    assert normalise("cuz he was scared") == "because he was scared"
    assert normalise("idk") == "i don't know"


def test_a_key_with_or_does_not_make_every_or_a_guess_list():
    assert is_guess_list("tobias or wren")
    assert not is_guess_list("to stay or to go", key="whether to stay or go")


def test_a_passage_alias_table_is_kept_while_many_other_passages_are_graded():
    """A server grades many classes on many passages: a passage's table must not be rebuilt
    (a full parse, the most expensive step) because 128 other passages came in between."""
    from readloom.llm.offline.aliases import passage_aliases

    texts = [f"Marta{i} the baker lived by the river. She baked bread." for i in range(300)]
    first = passage_aliases(texts[0])
    assert first.canonical("the baker") == "marta0"
    for text in texts[1:]:
        passage_aliases(text)
    assert passage_aliases(texts[0]) is first


def test_the_key_itself_is_graded_correct_without_an_embedding(passage):
    """Writing the key (any case or punctuation, or an alias of it) decides the grade: the
    embedding, most of a grade's cost, is not computed for it."""
    from readloom.retrieval.embeddings import embed

    embedded: list[str] = []

    def counting_embed(texts: list[str]):
        embedded.extend(texts)
        return embed(texts)

    grader = OfflineGrader(embed=counting_embed)
    question, key = WHY
    for response in (key, "She knew the fishing boats were still out at sea!", "SHE  KNEW the"
                     " fishing boats, were still out at sea"):  # fmt: skip
        got = grader.grade(response, question=question, key=key, passage=passage)
        assert (got.verdict, got.score) == ("correct", 1.0), response
    assert embedded == []
    got = grader.grade("the boats were out at sea", question=question, key=key, passage=passage)
    assert got.accepted and len(embedded) == 2  # any other wording is embedded (and the key)
