"""What passages exist, answered without the vector store or any model.

Ingest keeps a catalogue row per stored passage (``storage.catalogue``). Before the
first ingest there is no catalogue, and then the shipped corpus files are the whole
library (they are what the first start ingests). Only when neither can be trusted (a
store filled by an older readloom, or a Chroma server shared with other writers and no
rows yet) does the answer need the store itself: ``None`` here.
"""

from __future__ import annotations

from readloom.settings import Settings
from readloom.storage.catalogue import Entry, read_entries


def library(settings: Settings) -> list[Entry] | None:
    """Every passage, by grade then title; None when only the store can say."""
    entries = read_entries(settings)
    if entries is None:
        if settings.chroma_url or settings.chroma_path.exists():
            return None  # a store exists but was never catalogued
        entries = _shipped(settings)
    return sorted(entries, key=lambda e: (e.grade, e.title.lower()))


def is_known(settings: Settings, passage_id: str) -> bool | None:
    """Whether ``passage_id`` exists; None when only the store can say."""
    entries = library(settings)
    if entries is None:
        return None
    return any(e.passage_id == passage_id for e in entries)


def _shipped(settings: Settings) -> list[Entry]:
    from readloom.retrieval.passages import load_paths

    if not settings.corpus_path.is_dir():
        return []
    return [
        Entry(
            p.passage_id,
            p.title,
            p.grade,
            p.genre,
            p.source,
            topics=p.topics,
            characters=p.characters,
        )  # fmt: skip
        for p in load_paths([settings.corpus_path], source="readloom")
    ]
