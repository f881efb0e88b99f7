"""Passages written for these tests, and helpers that check replies independently of the
code under test (plain regexes, no spaCy), so a bug in the offline tier cannot hide itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from readloom.llm.offline.nlp import get_nlp
from readloom.llm.offline.questions import generate_questions
from readloom.state import Question


@dataclass(frozen=True)
class Passage:
    key: str
    title: str
    grade: int
    text: str

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.text.split("\n\n") if p.strip() and not p.startswith("#")]


LIGHTHOUSE = Passage(
    "lighthouse",
    "The Lighthouse Keeper's Helper",
    3,
    """Tobias lived with his grandmother in a small house near the harbor. Every evening, Grandma Rosa climbed the old lighthouse to light the great lamp. One stormy night in November, her knee hurt, so Tobias climbed the tower at dusk instead. He carried a brass lantern because the stairs were dark. The wind howled around the tower, and rain rattled the windows.

At the top, Tobias found the beacon, a huge lamp that warns ships about the rocks. He turned the heavy crank slowly. Soon the light flashed across the black water. Far away, a fishing boat was heading toward the rocks. The captain saw the light and turned the boat toward the safe channel.

After the storm ended, the captain visited the little house. He thanked Tobias for his courage and gave him a small wooden boat. Grandma Rosa smiled proudly. "You kept the harbor safe tonight," she said. Tobias put the boat on his windowsill so he would always remember that night.
""",
)

BEAVERS = Passage(
    "beavers",
    "Busy Builders of the River",
    5,
    """# Busy Builders of the River

Beavers are famous builders. They live in rivers and streams across North America. A beaver family builds a dam because it needs deep, still water to stay safe from predators such as wolves and bears.

To build a dam, beavers cut down trees with their strong front teeth. Their teeth never stop growing, so beavers must chew wood to keep them short. The beavers drag branches into the stream and pack them together with mud and stones. In the spring, when the snow melts, the rushing water can damage the dam. The beavers repair it quickly.

Behind the dam, the water rises and forms a pond. In the middle of the pond, the family builds a lodge, a dome-shaped home made of sticks and mud. The entrance of the lodge is under the water, so predators cannot easily get inside. In the winter, the beavers stay warm in the lodge and eat bark that they stored in the fall.

Beaver ponds help many other animals. Ducks, frogs, and fish find food and shelter in the calm water. Scientists call the beaver a keystone species because so many living things depend on its work.
""",
)

SCIENCE_FAIR = Passage(
    "science_fair",
    "The Science Fair",
    7,
    """Priya had spent three weeks on her science fair project. She wanted to find out whether music helps plants grow, so she planted twelve bean seeds in identical pots. Every morning before school, she measured each seedling with a ruler and recorded the numbers in a notebook. Her older brother, Marcus, teased her for being so meticulous, but Priya knew that careful records would make her results reliable.

On the day of the fair, the gymnasium at Lincoln Middle School buzzed with excitement. Priya set up her poster beside a table of volcano models. The judges arrived at ten o'clock. Dr. Okafor, a botanist from the university, studied her charts for a long time.

"Why did you use twelve plants instead of two?" she asked.

Priya explained that a small sample could give misleading results because one unusual plant might change the average. Dr. Okafor nodded and wrote something on her clipboard.

After the judges left, Priya waited nervously by her poster. Marcus brought her a lemonade and admitted that her notebook had impressed him. When the results were announced at noon, Priya won second place in the biology category. She decided that next year she would test whether light color affects growth.
""",
)

PASSAGES = (LIGHTHOUSE, BEAVERS, SCIENCE_FAIR)
QUESTION_COUNT = 8

_WORD = re.compile(r"[a-z0-9']+")
FUNCTION = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "it",
        "its",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "i",
        "you",
        "we",
        "this",
        "that",
        "so",
        "because",
        "as",
        "did",
        "do",
        "does",
        "what",
        "who",
        "where",
        "when",
        "why",
        "how",
        "which",
        "there",
        "then",
        "than",
        "into",
        "not",
        "had",
        "has",
        "have",
        "will",
        "would",
        "can",
        "could",
    ]
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content(text: str) -> set[str]:
    return {w for w in words(text) if w not in FUNCTION and len(w) > 1}


def quoted(text: str) -> list[str]:
    """Pieces of text quoted in a reply, split at ellipses and blanks."""
    pieces: list[str] = []
    for q in re.findall(r'"([^"]+)"', text):
        pieces += [p.strip(" ,.;:!?") for p in re.split(r"…|_{3,}", q) if p.strip(" ,.;:!?")]
    return pieces


def flesch_kincaid(text: str) -> float:
    """Flesch-Kincaid grade with pyphen syllables (textstat's English path needs nltk data)."""
    import pyphen

    dic = pyphen.Pyphen(lang="en_US")
    ws = re.findall(r"[A-Za-z']+", text)
    sentences = max(1, len(re.findall(r"[.!?]+", text)))
    syllables = sum(len(dic.positions(w.lower())) + 1 for w in ws)
    return 0.39 * len(ws) / sentences + 11.8 * syllables / max(1, len(ws)) - 15.59


@pytest.fixture(scope="session")
def tools() -> SimpleNamespace:
    """Checking helpers (tests cannot import conftest under --import-mode=importlib)."""
    return SimpleNamespace(
        words=words, content=content, quoted=quoted, flesch_kincaid=flesch_kincaid
    )


@pytest.fixture(params=PASSAGES, ids=[p.key for p in PASSAGES])
def passage(request: pytest.FixtureRequest) -> Passage:
    return request.param


@pytest.fixture(scope="session")
def passages() -> tuple[Passage, ...]:
    return PASSAGES


@pytest.fixture(scope="session")
def nlp():
    """Load spaCy once per test session (the offline tier caches it per process)."""
    return get_nlp()


@pytest.fixture(scope="session")
def question_sets(nlp) -> dict[str, list[Question]]:
    return {
        p.key: generate_questions(
            passage_title=p.title, passage_text=p.text, count=QUESTION_COUNT, grade=p.grade
        ).questions
        for p in PASSAGES
    }
