"""Fixtures for the retrieval tests: the real embedding model (loaded once per
session), a PassageStore in the per-test READLOOM_HOME, and a few tiny passages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from readloom.retrieval.models import Passage
from readloom.retrieval.store import PassageStore
from readloom.settings import Settings

FOX = """Rosa the fox lived at the edge of a quiet wood. Every morning she trotted down to the stream to drink.

One cold day the stream was frozen hard. Rosa tapped the ice with her paw, but it would not crack.

She remembered the warm spring behind the old mill. The water there never froze, even in deep winter. Rosa ran all the way to the mill and drank until she was full."""

VOLCANO = """A volcano is an opening in the Earth's crust. Deep underground, rock melts into a hot liquid called magma.

Magma is lighter than the solid rock around it, so it rises slowly through cracks. When pressure builds beneath the surface, the magma bursts out in an eruption. Once it reaches the surface, it is called lava.

Scientists who study volcanoes are called volcanologists. They measure small earthquakes and gases to predict when a volcano might erupt."""

BEES = """Honey bees live together in a hive. Each hive has one queen, thousands of workers and a few drones.

Worker bees collect nectar from flowers. Back at the hive, they fan the nectar with their wings until it thickens into honey.

A forager that finds good flowers does a waggle dance. The dance tells the other bees which way to fly and how far to go."""

LIGHTHOUSE = """Old Tomasz had kept the lighthouse on Gull Rock for forty years. Each evening he climbed the spiral stairs, trimmed the wick and polished the great lens until it gleamed. From the top he could see the whole harbour, the red roofs of the town and the long grey line of the reef.

On the night of the storm, the lamp flickered and went dark. Tomasz knew a fishing boat was still out past the reef. With shaking hands he lit a ship's lantern and held it high at the window, swinging it slowly back and forth until dawn.

In the morning the fishermen rowed out to the rock with bread, cheese and a new wick. They had seen his little light through the rain and steered safely around the reef."""


def make_passages() -> list[Passage]:
    return [
        Passage(passage_id="rosa-the-fox", title="Rosa the Fox", text=FOX, grade=2,
                genre="fiction", topics=["animals", "winter"], characters=["Rosa"]),
        Passage(passage_id="how-volcanoes-work", title="How Volcanoes Work", text=VOLCANO,
                grade=5, genre="informational", topics=["earth science"]),
        Passage(passage_id="honey-bees", title="Honey Bees", text=BEES, grade=3,
                genre="informational", topics=["insects"]),
        Passage(passage_id="gull-rock-light", title="The Light on Gull Rock", text=LIGHTHOUSE,
                grade=6, genre="fiction", topics=["sea"], characters=["Tomasz"]),
    ]  # fmt: skip


def md_file(passage: Passage) -> str:
    return (
        f"---\npassage_id: {passage.passage_id}\ntitle: {passage.title}\n"
        f"grade: {passage.grade}\ngenre: {passage.genre}\n"
        f"topics: [{', '.join(passage.topics)}]\ncharacters: [{', '.join(passage.characters)}]\n"
        f"---\n{passage.text}\n"
    )


@pytest.fixture(scope="session")
def embedding_model():
    """Load the real model once for the whole session (it is cached per process)."""
    from readloom.retrieval.embeddings import get_model

    return get_model()


@pytest.fixture
def settings() -> Settings:
    return Settings()  # READLOOM_HOME is a per-test tmp dir (tests/conftest.py)


@pytest.fixture
def store(settings: Settings, embedding_model) -> PassageStore:
    return PassageStore(settings)


@pytest.fixture
def passages() -> list[Passage]:
    return make_passages()


@pytest.fixture
def corpus_dir(tmp_path: Path, passages: list[Passage]) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for p in passages:
        (folder / f"{p.passage_id}.md").write_text(md_file(p), encoding="utf-8")
    return folder


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(name: str, content: str) -> Path:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return path

    return _write
