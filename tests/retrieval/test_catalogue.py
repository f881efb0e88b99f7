"""The passage catalogue: kept by ingest, read without the vector store or any model."""

from __future__ import annotations

import pytest

from readloom.retrieval.catalogue import is_known, library
from readloom.retrieval.store import PassageStore
from readloom.settings import Settings
from readloom.storage.catalogue import CatalogueWriter, read_entries
from readloom.storage.db import migrate


@pytest.fixture
def writer(settings: Settings) -> CatalogueWriter:
    migrate(settings)
    w = CatalogueWriter(settings)
    yield w
    w.close()


def test_a_fresh_home_lists_the_shipped_corpus(settings: Settings) -> None:
    entries = library(settings)
    assert entries is not None and len(entries) >= 10
    assert [(e.grade, e.title.lower()) for e in entries] == sorted(
        (e.grade, e.title.lower()) for e in entries
    )
    assert is_known(settings, entries[0].passage_id) is True
    assert is_known(settings, "no-such-passage") is False


def test_ingest_and_delete_keep_the_catalogue_in_step(
    settings: Settings, writer: CatalogueWriter, passages, embedding_model
) -> None:
    store = PassageStore(settings, catalogue=writer)
    store.ingest_passages(passages)
    rows = {e.passage_id: e for e in read_entries(settings) or []}
    assert set(rows) == {p.passage_id for p in passages}
    fox = rows["rosa-the-fox"]
    assert (fox.title, fox.grade, fox.genre, fox.topics, fox.characters) == (
        "Rosa the Fox", 2, "fiction", ["animals", "winter"], ["Rosa"],
    )  # fmt: skip
    assert fox.content_hash == store.record("rosa-the-fox").content_hash
    assert store.delete("rosa-the-fox")
    assert is_known(settings, "rosa-the-fox") is False
    assert is_known(settings, "honey-bees") is True


def test_a_store_filled_before_the_catalogue_is_caught_up(
    settings: Settings, writer: CatalogueWriter, passages, embedding_model
) -> None:
    PassageStore(settings).ingest_passages(passages)  # no catalogue: an older readloom
    assert library(settings) is None  # a store exists, the catalogue cannot say
    store = PassageStore(settings, catalogue=writer)
    store.sync_catalogue()
    assert {e.passage_id for e in library(settings) or []} == {p.passage_id for p in passages}


def test_ingest_keeps_the_reading_level_the_monitor_reads(
    settings: Settings, writer: CatalogueWriter, passages, embedding_model
) -> None:
    from datetime import UTC, datetime, timedelta

    from readloom.mlops import monitor

    store = PassageStore(settings, catalogue=writer)
    store.ingest_passages(passages)
    now = datetime.now(UTC)
    events = monitor.events_from_db(settings, now - timedelta(hours=1), now + timedelta(hours=1))
    levels = sorted(e["grade"] for e in events if e["kind"] == "passage")
    estimated = sorted(round(store.record(p.passage_id).grade_level, 3) for p in passages)
    assert levels == pytest.approx(estimated) and len(levels) == len(passages)
    assert levels != sorted(float(p.grade) for p in passages)  # the estimate, not the label
