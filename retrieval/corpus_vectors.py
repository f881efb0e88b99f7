"""The shipped corpus's sentence vectors, computed once per installation.

A first start in a new home ingests the 28 shipped passages; embedding their sentences
loads torch and the model (~10 s of CPU). ``warm_up`` (``readloom warm-up``, run by
bootstrap.sh) embeds them once, exactly as a first ingest does, into a file beside the
installation (``Settings.corpus_vectors_path``) that every user's first start reads.

What may go in: only the vectors of the shipped passages' sentences, keyed by a SHA-256
of model and text (no text). Ingest only *reads* this file (``embed_known_first``); a
pasted or uploaded passage is embedded as before and never written here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import numpy as np

from readloom.retrieval.vector_cache import VectorCache
from readloom.settings import Settings

_readers: dict[Path, VectorCache | None] = {}


def _reader(path: Path) -> VectorCache | None:
    """A read-only view of the file, or None when there is none (not warmed up)."""
    if path not in _readers:
        from readloom.retrieval.embeddings import DIMENSIONS, MODEL_NAME

        cache = None
        if path.is_file():
            cache = VectorCache(path, model=MODEL_NAME, dimensions=DIMENSIONS, readonly=True)
        _readers[path] = cache
    return _readers[path]


def embed_known_first(texts: list[str], settings: Settings) -> np.ndarray:
    """``embeddings.embed(texts)``, with the shipped sentences' rows read from the file:
    the model loads only when some sentence is not a shipped one."""
    from readloom.retrieval.embeddings import DIMENSIONS, embed

    cache = _reader(settings.corpus_vectors_path)
    hits: dict[int, np.ndarray] = {}
    if cache is not None and texts:
        with contextlib.suppress(sqlite3.Error):  # unreadable: embed, as without it
            hits = cache.get(texts)
    if len(hits) == len(texts):
        return np.stack([hits[i] for i in range(len(texts))]) if texts else embed(texts)
    rest = [i for i in range(len(texts)) if i not in hits]
    fresh = embed([texts[i] for i in rest])
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for i, vec in hits.items():
        out[i] = vec
    out[rest] = fresh
    return out


def warm_up(settings: Settings) -> int:
    """Fill the installation's file; returns how many vectors it holds.

    First the sentences a first ingest embeds, in the groups it uses (so the vectors are
    bit for bit the ones it would compute); then the sentences the offline question
    generator embeds for each shipped passage (its main-idea and word-meaning checks),
    collected from a throw-away home that has seen only the shipped passages."""
    from readloom.retrieval import chunking
    from readloom.retrieval.embeddings import DIMENSIONS, MODEL_NAME, embed
    from readloom.retrieval.passages import load_paths
    from readloom.retrieval.store import _WRITE_GROUP

    passages = load_paths([settings.corpus_path], source="readloom")
    path = settings.corpus_vectors_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        part = Path(tmp) / path.name
        cache = VectorCache(part, model=MODEL_NAME, dimensions=DIMENSIONS)
        for g in range(0, len(passages), _WRITE_GROUP):
            group = passages[g : g + _WRITE_GROUP]
            texts = [t for p in group for t in chunking.plan(p.text).texts()]
            cache.put(texts, embed(texts))
        cache.close()
        _publish(part, path)
        home = Path(tmp) / "home"
        _generate_for_every_passage(settings, home, [p.passage_id for p in passages])
        part = Path(tmp) / path.name
        shutil.copyfile(path, part)
        with sqlite3.connect(part) as conn:
            conn.execute(
                "ATTACH DATABASE ? AS home", (str(home / "cache" / "sentence-vectors.sqlite"),)
            )
            conn.execute("INSERT OR IGNORE INTO vectors SELECT digest, vec FROM home.vectors")
        conn.close()
        _publish(part, path)
    with sqlite3.connect(path) as conn:
        rows = int(conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
    conn.close()
    return rows


def _publish(part: Path, path: Path) -> None:
    """One self-contained file (no WAL), readable by every user, swapped in atomically."""
    with sqlite3.connect(part) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    part.chmod(0o644)
    part.replace(path)
    _readers.pop(path, None)


def _generate_for_every_passage(settings: Settings, home: Path, ids: list[str]) -> None:
    """Questions for each shipped passage in ``home`` (offline tier only): its sentence
    cache then holds what the generator embeds for them."""
    import asyncio

    from readloom import settings as settings_module
    from readloom.service import Readloom
    from readloom.service.question_batch import BatchItem, run_batch

    local = settings.model_copy(update={"home": home, "providers": ["offline"]})
    items = [BatchItem(source=pid, request={"passage_id": pid}) for pid in ids]

    async def run() -> None:
        async with Readloom(local) as app:
            async for _ in run_batch(
                app, items, count=5, grade=None, types=None, choices=False,
                resolve_file=lambda a, f: str(f),
            ):  # fmt: skip
                pass

    saved = os.environ.get("READLOOM_HOME")
    os.environ["READLOOM_HOME"] = str(home)  # embed_sentences reads the process settings
    settings_module.get_settings.cache_clear()
    try:
        asyncio.run(run())
    finally:
        if saved is None:
            os.environ.pop("READLOOM_HOME", None)
        else:
            os.environ["READLOOM_HOME"] = saved
        settings_module.get_settings.cache_clear()
