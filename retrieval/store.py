"""The passage store: chunks in Chroma for dense search, BM25 for exact words, both
fused; full passage records beside them so ``get`` returns the whole passage.

Everything lives in Chroma: ``<collection>`` holds the chunks (text, offsets,
filterable metadata, one vector each), ``<collection>-sentences`` one vector per
sentence of a chunk (a chunk's dense relevance is its best vector), and
``<collection>-records`` the full passages, so a Chroma server
(``READLOOM_CHROMA_URL``) shared by several workers is the one source of truth.

Each record carries a content hash: re-ingesting an unchanged passage is skipped
without loading the embedding model, a changed one has its chunks replaced. The
record is written after its chunks, so an interrupted ingest is redone next time.

A tenant's passage is sealed before any of it is written (``ingest_passages(seal=True)``):
chunks, vectors, metadata and hash are made from the text with placeholders, and the
record keeps the encrypted way back. Reads in this process open it (``opened=False``
gives it as stored), so no crash leaves a tenant's personal data in Chroma's files.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from cachetools import Cache, LRUCache, TTLCache
from pydantic import BaseModel, Field

from readloom.errors import GuardrailDenied, InputError, NotFound, ReadloomError
from readloom.foreground import background
from readloom.mlops.data_quality import QualityReport
from readloom.retrieval import chunking
from readloom.retrieval.chroma import (
    PassageRecord,
    chroma_client,
    chunk_id,
    chunk_metadata,
    content_hash,
    record_from,
    record_metadata,
    sentence_metadata,
    where_clause,
)
from readloom.retrieval.lexical import reciprocal_rank_fusion
from readloom.retrieval.models import Genre, Passage, Span
from readloom.retrieval.passages import load_paths
from readloom.retrieval.search import (
    CANDIDATES,
    DENSE_WEIGHT,
    IN_MEMORY_VECTORS,
    LEXICAL_WEIGHT,
    RRF_K,
    ChunkCache,
    DenseIndex,
    PassageVectors,
    dense_ranking,
)
from readloom.settings import Settings
from readloom.storage.catalogue import CatalogueWriter, Entry

log = logging.getLogger(__name__)

SearchMode = Literal["hybrid", "dense", "lexical"]
PassageGuard = Callable[[Passage], None]
"""Raises (e.g. ``GuardrailDenied``) to refuse a passage at ingest; see guardrails.injection."""


class Opening(Protocol):
    def passage(self, sealed: Passage) -> Passage: ...

    def span(self, sealed_text: str, start: int, end: int) -> tuple[str, int, int]: ...


class Sealer(Protocol):
    """Stores a tenant's passage with placeholders for its personal data (see
    ``guardrails.sealing``): ``seal`` gives the passage to store and its encrypted way back."""

    def seal(self, passage: Passage) -> tuple[Passage, str]: ...

    def opening(self, token: str) -> Opening: ...


_WRITE_GROUP = 16  # passages embedded per model call
_PAGE = 1000


class IngestReport(BaseModel):
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    refused: dict[str, str] = Field(
        default_factory=dict, description="passage id -> reason code (never text)"
    )
    passage_ids: list[str] = Field(
        default_factory=list, description="Stored passages of this ingest, in input order"
    )
    rejected_rows: dict[str, str] = Field(
        default_factory=dict, description="'file:line' -> why the row failed its schema"
    )


RECORD_TTL_S = 30.0  # how long a read passage record is reused
RECORDS_HELD = 512
CHUNKS_RECHECK_S = 1.0
VECTORS_HELD = 64  # passages whose vectors are kept in memory (a few kB each)


@dataclass(frozen=True)
class _Prepared:
    """A passage ready to write: its chunk plan, sentence vectors and grade estimates."""

    plan: chunking.Plan
    vecs: np.ndarray
    chunk_grades: list[float]
    grade: float


@dataclass(frozen=True)
class _Todo:
    """A passage to write as stored (sealed or not), its hash and its way back."""

    passage: Passage
    digest: str
    existed: bool
    opening: str | None


class PassageStore:
    """Hybrid passage retrieval over Chroma; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        passage_guard: PassageGuard | None = None,
        sealer: Sealer | None = None,
        client: Any | None = None,
        catalogue: CatalogueWriter | None = None,
        rrf_k: float = RRF_K,
        dense_weight: float = DENSE_WEIGHT,
        lexical_weight: float = LEXICAL_WEIGHT,
    ):
        from readloom.retrieval.embeddings import MiniLMEmbeddingFunction

        self.settings = settings
        self.passage_guard = passage_guard
        self.sealer = sealer
        self.catalogue = catalogue
        self.rrf_k, self.weights = rrf_k, (dense_weight, lexical_weight)
        self._client = client or chroma_client(settings)
        name = settings.collection
        self._chunks = self._client.get_or_create_collection(
            name,
            embedding_function=MiniLMEmbeddingFunction(),
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"readloom": "passage chunks"},
        )
        self._sentences = self._client.get_or_create_collection(
            f"{name}-sentences",
            embedding_function=MiniLMEmbeddingFunction(),
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"readloom": "sentences of chunks (vectors only)"},
        )
        self._records = self._client.get_or_create_collection(
            f"{name}-records",
            embedding_function=None,
            metadata={"readloom": "passage records (placeholder vectors)"},
        )
        self._lock = threading.RLock()  # swaps of the in-memory caches
        # Writers take turns; readers never wait for a write: they keep the cache they
        # had until the writer has built the next one (see ``_write``).
        self._write_lock = threading.Lock()
        self._writing = 0
        self._cache: ChunkCache | None = None
        self._dense_held: DenseIndex | None = None
        self._checked = 0.0  # when the chunk count was last compared with the cache
        # Reads held in memory (see ``record`` and ``_passage_vectors``); a write empties
        # them and bumps the generation, so a read begun before it is not held.
        self._held: TTLCache[str, PassageRecord] = TTLCache(
            RECORDS_HELD, RECORD_TTL_S, timer=time.monotonic
        )
        self._vectors: LRUCache[str, PassageVectors] = LRUCache(VECTORS_HELD)
        self._openings: TTLCache[str, Opening | None] = TTLCache(
            RECORDS_HELD, RECORD_TTL_S, timer=time.monotonic
        )
        self._held_lock = threading.Lock()
        self._generation = 0

    # --- ingest ---------------------------------------------------------------------

    def ingest_paths(
        self, paths: Iterable[Path | str], *, progress: bool = False, strict: bool = True
    ) -> IngestReport:
        """Ingest .md/.txt/.jsonl files and folders of them (see ``ingest_passages``)."""
        quality: list[QualityReport] = []
        report = self.ingest_passages(
            load_paths([Path(p) for p in paths], reports=quality), progress=progress, strict=strict
        )
        report.rejected_rows = {
            f"{q.source}:{b.line}": b.reason for q in quality for b in q.bad_rows
        }
        return report

    def ensure_corpus(self) -> IngestReport:
        """Ingest the shipped corpus once; later calls only compare hashes (no model load)."""
        corpus = self.settings.corpus_path
        if not corpus.is_dir():
            log.warning("corpus_missing path_exists=false")
            return IngestReport()
        report = self.ingest_passages(load_paths([corpus], source="readloom"), strict=False)
        if report.refused:
            log.warning("corpus_passages_refused count=%d", len(report.refused))
        self.sync_catalogue()
        return report

    def sync_catalogue(self) -> None:
        """Rebuild the catalogue from the records when their counts differ (a store
        filled before the catalogue existed, or written by a process without one)."""
        if self.catalogue is None:
            return
        with self._lock:
            if self.catalogue.count() == self.count():
                return
            self.catalogue.replace_all(_entry(r) for r in self.list_records(opened=False))

    def ingest_passages(
        self,
        passages: Sequence[Passage],
        *,
        progress: bool = False,
        strict: bool = True,
        seal: bool = False,
    ) -> IngestReport:
        """Add new passages, replace changed ones, skip unchanged ones.

        Each new or changed passage first goes through ``passage_guard``; a refusal
        (or a guard error: fail closed) keeps it out of the store. With ``strict`` a
        refusal raises ``GuardrailDenied`` before anything is written; otherwise it
        is listed in ``report.refused``. With ``seal`` (a tenant's text) what is stored,
        embedded and hashed is the passage with placeholders for its personal data; reads
        in this process give the real text back (see ``Sealer``).
        """
        if seal and self.sealer is None:
            raise ReadloomError("this store cannot seal passages", code="sealer_missing")
        with background():  # an upload waits for children's turns (``foreground``)
            return self._ingest(passages, progress=progress, strict=strict, seal=seal)

    def _ingest(
        self, passages: Sequence[Passage], *, progress: bool, strict: bool, seal: bool
    ) -> IngestReport:
        seen: set[str] = set()
        for passage in passages:
            if passage.passage_id in seen:
                raise InputError(f"passage id {passage.passage_id!r} is given twice")
            seen.add(passage.passage_id)
        start = time.perf_counter()
        report = IngestReport()
        # The slow parts (guard, chunking, embedding, readability) run outside the lock,
        # so searches for other students' turns go on meanwhile; only the writes take it.
        stored = self._stored_hashes([p.passage_id for p in passages])
        todo: list[_Todo] = []
        for passage in passages:
            keep, opening = self._seal(passage) if seal else (passage, None)
            digest = content_hash(keep)
            old = stored.get(passage.passage_id)
            if old == digest:
                report.skipped.append(passage.passage_id)
                continue
            reason = self._refusal(passage)  # the real text is what is judged
            if reason:
                report.refused[passage.passage_id] = reason
            else:
                todo.append(_Todo(keep, digest, old is not None, opening))
        if strict and report.refused:
            pid, reason = next(iter(report.refused.items()))
            raise GuardrailDenied(f"passage {pid!r} was refused at ingest ({reason})")
        self._write(todo, progress=progress)
        for item in todo:
            (report.updated if item.existed else report.added).append(item.passage.passage_id)
        report.passage_ids = [p.passage_id for p in passages if p.passage_id not in report.refused]
        log.info(
            "ingest added=%d updated=%d skipped=%d refused=%d seconds=%.2f",
            len(report.added),
            len(report.updated),
            len(report.skipped),
            len(report.refused),
            time.perf_counter() - start,
        )
        return report

    def _seal(self, passage: Passage) -> tuple[Passage, str]:
        assert self.sealer is not None
        return self.sealer.seal(passage)

    def _refusal(self, passage: Passage) -> str | None:
        if self.passage_guard is None:
            return None
        try:
            self.passage_guard(passage)
        except ReadloomError as exc:
            return exc.code
        except Exception:  # noqa: BLE001 - a failing guard refuses (fail closed)
            return "guard_error"
        return None

    def _stored_hashes(self, ids: list[str]) -> dict[str, str]:
        hashes: dict[str, str] = {}
        for i in range(0, len(ids), _PAGE):
            got = self._records.get(ids=ids[i : i + _PAGE], include=["metadatas"])
            for pid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                hashes[pid] = str((meta or {}).get("content_hash", ""))
        return hashes

    def _write(self, todo: list[_Todo], *, progress: bool) -> None:
        """Write groups of passages. A turn's search meanwhile reads the chunk cache it
        had (the passages as they were before this ingest); the new cache is built here,
        on the writer's thread, and swapped in before returning, so a reader never blocks
        on Chroma's writes or on rebuilding the BM25 index of the whole library."""
        if not todo:
            return
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="passage", desc="ingest", disable=not progress)
        with self._lock:
            self._writing += 1
        try:
            for g in range(0, len(todo), _WRITE_GROUP):
                group = todo[g : g + _WRITE_GROUP]
                prepared = self._prepare([item.passage for item in group])
                with self._write_lock:
                    try:
                        for item, ready in zip(group, prepared, strict=True):
                            self._replace(item, ready)
                            bar.update(1)
                        if self.catalogue is not None:
                            self.catalogue.upsert(
                                _entry_of(item.passage, item.digest, ready.grade)
                                for item, ready in zip(group, prepared, strict=True)
                            )
                    finally:
                        self._invalidate(keep_chunks=True)
        finally:
            bar.close()
            try:
                fresh = self._read_chunks()
            finally:
                with self._lock:
                    self._writing -= 1
                    self._cache = fresh if self._writing == 0 else None
                    self._checked = time.monotonic()

    def _prepare(self, passages: list[Passage]) -> list[_Prepared]:
        """Chunk, embed and grade passages: the CPU-heavy part of ingest, lock-free. The
        shipped passages' vectors come from the installation's file when it was warmed up
        (``retrieval.corpus_vectors``); it is only read here."""
        from readloom.retrieval.corpus_vectors import embed_known_first
        from readloom.retrieval.readability import estimate_grade

        plans = [chunking.plan(passage.text) for passage in passages]
        texts = [text for plan in plans for text in plan.texts()]
        vectors = iter(embed_known_first(texts, self.settings))
        out = []
        for passage, plan in zip(passages, plans, strict=True):
            vecs = np.stack([next(vectors) for _ in plan.sentences])
            out.append(
                _Prepared(
                    plan,
                    vecs,
                    [estimate_grade(c.text) for c in plan.chunks],
                    estimate_grade(passage.text),
                )
            )
        return out

    def _replace(self, item: _Todo, ready: _Prepared) -> None:
        """Swap a passage's chunks and sentence vectors, then (last) its record."""
        passage, digest = item.passage, item.digest
        sealed = {} if item.opening is None else {"sealed": True}
        plan, vecs = ready.plan, ready.vecs
        pid = passage.passage_id
        owner = np.array([index for index, _, _ in plan.sentences])
        # Also when new: an ingest interrupted before its record may have left chunks.
        self._chunks.delete(where={"passage_id": pid})
        self._sentences.delete(where={"passage_id": pid})
        if plan.chunks:
            means = np.stack([vecs[owner == c.index].mean(axis=0) for c in plan.chunks])
            means /= np.linalg.norm(means, axis=1, keepdims=True)
            _add_batched(
                self._chunks, self._batch(),
                ids=[chunk_id(pid, c.index) for c in plan.chunks],
                embeddings=means.tolist(),
                documents=[c.text for c in plan.chunks],
                metadatas=[
                    {**chunk_metadata(passage, c, digest), "grade_level": grade, **sealed}
                    for c, grade in zip(plan.chunks, ready.chunk_grades, strict=True)
                ],
            )  # fmt: skip
        # A one-sentence chunk's vector is its sentence's: no separate entry.
        keep = [i for i, index in enumerate(owner) if (owner == index).sum() > 1]
        if keep:
            _add_batched(
                self._sentences, self._batch(),
                ids=[f"{chunk_id(pid, owner[i])}.{i}" for i in keep],
                embeddings=vecs[keep].tolist(),
                metadatas=[
                    sentence_metadata(passage, chunk_id(pid, owner[i]), *plan.sentences[i][1:])
                    for i in keep
                ],
            )  # fmt: skip
        meta = record_metadata(passage, digest, len(plan.chunks))
        meta["grade_level"] = ready.grade
        # the encrypted way back (guardrails.sealing); "" when stored as given, so a
        # record that was sealed before keeps no stale key (an upsert merges metadata)
        meta["sealed"] = item.opening or ""
        self._records.upsert(
            ids=[pid],
            embeddings=[[0.0]],  # records are fetched by id, never searched
            documents=[passage.text],
            metadatas=[meta],
        )

    def _batch(self) -> int:
        """Chroma refuses an add larger than its max batch (5,461 on the embedded client)."""
        try:
            return max(1, int(self._client.get_max_batch_size()))
        except Exception:  # noqa: BLE001 - an older or remote client: a safe size
            return 1000

    # --- reading --------------------------------------------------------------------

    def close(self) -> None:
        """Release the Chroma client and the catalogue's engine (a CLI run that ends with
        ``os._exit`` closes them here instead of in the interpreter's teardown)."""
        if self.catalogue is not None:
            self.catalogue.close()
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def get(self, passage_id: str, *, opened: bool = True) -> Passage:
        return self.record(passage_id, opened=opened).passage

    def record(self, passage_id: str, *, opened: bool = True) -> PassageRecord:
        """A passage's record, held for ``RECORD_TTL_S``: a tutoring turn reads its passage
        several times, and another worker's re-ingest still shows within that time.
        A sealed passage is opened (real text, in memory) unless ``opened`` is False: then
        it is as stored, with placeholders."""
        key = passage_id if opened else f"\0{passage_id}"
        held, generation = self._lookup(self._held, key)
        if held is not None:
            return held
        got = self._records.get(ids=[passage_id], include=["documents", "metadatas"])
        if not got["ids"]:
            raise NotFound(f"no passage with id {passage_id!r}")
        rec = self._opened(record_from(got["ids"][0], got["documents"][0], got["metadatas"][0]),
                           got["metadatas"][0], opened)  # fmt: skip
        return self._hold(self._held, key, rec, generation)

    def is_sealed(self, passage_id: str) -> bool:
        got = self._records.get(ids=[passage_id], include=["metadatas"])
        return bool(got["ids"]) and bool((got["metadatas"][0] or {}).get("sealed"))

    def _opened(self, rec: PassageRecord, meta: dict[str, Any], opened: bool) -> PassageRecord:
        token = (meta or {}).get("sealed")
        if not opened or not token:
            return rec
        opening = self._opening_of(rec.passage.passage_id, str(token))
        return rec.model_copy(update={"passage": opening.passage(rec.passage)})

    def _opening_of(self, passage_id: str, token: str | None = None) -> Opening:
        """A sealed passage's way back, decrypted once (until the next write)."""
        held, generation = self._lookup(self._openings, passage_id)
        if held is not None:
            return held
        if self.sealer is None:
            raise ReadloomError(
                f"passage {passage_id!r} is sealed and this store cannot open it",
                code="passage_sealed",
            )
        if token is None:
            got = self._records.get(ids=[passage_id], include=["metadatas"])
            token = str((got["metadatas"] or [{}])[0].get("sealed") or "") if got["ids"] else ""
            if not token:
                raise NotFound(f"no passage with id {passage_id!r}")
        return self._hold(self._openings, passage_id, self.sealer.opening(token), generation)

    def _open_span(self, span: Span) -> Span:
        """A chunk of a sealed passage as the reader sees it: real words, real offsets."""
        opening = self._opening_of(span.passage_id)
        text, start, end = opening.span(span.text, span.start, span.end)
        title = self.record(span.passage_id).passage.title
        return span.model_copy(update={"text": text, "start": start, "end": end, "title": title})

    def _lookup(self, cache: Cache, key: str) -> tuple[Any, int]:
        """A held read (or None) and the generation to pass to ``_hold``."""
        with self._held_lock:
            return cache.get(key), self._generation

    def _hold(self, cache: Cache, key: str, value: Any, generation: int) -> Any:
        """Hold ``value`` unless a write came since its read began."""
        with self._held_lock:
            if generation == self._generation:
                cache[key] = value
        return value

    def _invalidate(self, *, keep_chunks: bool = False) -> None:
        """After a write: drop the chunk cache (unless the writer rebuilds it) and every
        held record."""
        if not keep_chunks:
            self._cache = None
        self._dense_held = None
        with self._held_lock:
            self._held.clear()
            self._vectors.clear()
            self._openings.clear()
            self._generation += 1

    def _passage_vectors(self, passage_id: str) -> PassageVectors:
        """A passage's vectors, fetched once (until the next write)."""
        held, generation = self._lookup(self._vectors, passage_id)
        if held is not None:
            return held
        where = {"passage_id": passage_id}
        chunks = self._chunks.get(where=where, include=["embeddings"])
        sents = self._sentences.get(where=where, include=["embeddings", "metadatas"])
        vectors = PassageVectors(
            chunks["ids"],
            np.asarray(chunks["embeddings"], dtype=np.float32),
            [m["chunk_id"] for m in sents["metadatas"]],
            np.asarray(sents["embeddings"], dtype=np.float32),
        )
        return self._hold(self._vectors, passage_id, vectors, generation)

    def _dense(
        self, query: str, where: dict[str, Any] | None, depth: int, passage_id: str | None
    ) -> list[tuple[str, float]]:
        """Rank in memory (one passage's vectors, or the whole library's while it fits);
        else ask Chroma's index. The query is embedded once (memoised across turns)."""
        from readloom.retrieval.embeddings import embed_query

        if passage_id is not None and where == {"passage_id": passage_id}:
            return self._passage_vectors(passage_id).ranking(embed_query(query), depth)
        index = self._dense_index()
        if index is None:
            return dense_ranking(self._chunks, self._sentences, query, where, depth)
        return index.ranking(embed_query(query), where, depth)

    def _dense_index(self) -> DenseIndex | None:
        """Every vector in memory, for the current chunk cache; None when too many."""
        cache = self._chunk_cache()
        with self._lock:
            held = self._dense_held
            if held is not None and held.cache is cache:
                return held
            if len(cache.ids) == 0 or self._sentences.count() + len(cache.ids) > IN_MEMORY_VECTORS:
                return None
            chunks = self._chunks.get(include=["embeddings"])
            sents = self._sentences.get(include=["embeddings", "metadatas"])
            self._dense_held = DenseIndex(
                cache,
                chunks["ids"],
                np.asarray(chunks["embeddings"], dtype=np.float32).reshape(len(chunks["ids"]), -1),
                [m["chunk_id"] for m in sents["metadatas"]],
                np.asarray(sents["embeddings"], dtype=np.float32).reshape(len(sents["ids"]), -1),
            )
            return self._dense_held

    def list_records(
        self,
        *,
        grade: int | None = None,
        grade_min: int | None = None,
        grade_max: int | None = None,
        genre: Genre | None = None,
        opened: bool = True,
    ) -> list[PassageRecord]:
        if grade is not None:
            grade_min = grade_max = grade
        where = where_clause(grade_min=grade_min, grade_max=grade_max, genre=genre)
        records: list[PassageRecord] = []
        offset = 0
        while True:
            got = self._records.get(
                where=where, include=["documents", "metadatas"], limit=_PAGE, offset=offset
            )
            records += [
                self._opened(record_from(pid, doc, meta), meta, opened)
                for pid, doc, meta in zip(
                    got["ids"], got["documents"], got["metadatas"], strict=True
                )
            ]
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        return sorted(records, key=lambda r: (r.passage.grade, r.passage.title.lower()))

    def list(
        self,
        *,
        grade: int | None = None,
        grade_min: int | None = None,
        grade_max: int | None = None,
        genre: Genre | None = None,
        opened: bool = True,
    ) -> list[Passage]:
        """Stored passages, by grade then title (``grade`` = exactly that grade)."""
        return [
            r.passage
            for r in self.list_records(
                grade=grade, grade_min=grade_min, grade_max=grade_max, genre=genre, opened=opened
            )
        ]

    def count(self) -> int:
        """Number of stored passages."""
        return self._records.count()

    def delete(self, passage_id: str) -> bool:
        """Remove a passage and its chunks; False when there was none."""
        with self._write_lock, self._lock:
            existed = bool(self._records.get(ids=[passage_id], include=[])["ids"])
            self._chunks.delete(where={"passage_id": passage_id})
            self._sentences.delete(where={"passage_id": passage_id})
            if existed:
                self._records.delete(ids=[passage_id])
            if self.catalogue is not None:
                self.catalogue.delete(passage_id)
            self._invalidate()
        return existed

    # --- search ---------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        passage_id: str | None = None,
        grade_min: int | None = None,
        grade_max: int | None = None,
        genre: Genre | None = None,
        mode: SearchMode = "hybrid",
        per_passage: int | None = None,
        dense_query: str | None = None,
    ) -> list[Span]:
        """The ``k`` best chunks for ``query`` that pass the filters, best first.

        ``grade_min``/``grade_max`` filter on the passage's target grade. ``Span.score``
        is the fused RRF score (hybrid), cosine similarity (dense) or BM25 (lexical).
        At most ``per_passage`` spans come from one passage; by default 1 when
        searching across passages (the best span of each, so more passages are
        seen) and no limit within one ``passage_id``. ``dense_query`` (default: ``query``)
        is what the dense ranking embeds, when it should differ from the words matched.
        """
        k = self.settings.retrieval_k if k is None else k
        if not query or not query.strip():
            raise InputError("the search query is empty")
        if k < 1:
            raise InputError("k must be at least 1")
        if mode not in ("hybrid", "dense", "lexical"):
            raise InputError(f"unknown search mode {mode!r}")
        if grade_min is not None and grade_max is not None and grade_min > grade_max:
            raise InputError("grade_min is above grade_max")
        if per_passage is not None and per_passage < 1:
            raise InputError("per_passage must be at least 1")
        limit = per_passage or (1 if passage_id is None else k)
        where = where_clause(
            passage_id=passage_id, grade_min=grade_min, grade_max=grade_max, genre=genre
        )
        start = time.perf_counter()
        depth = max(CANDIDATES, k)
        cache = self._chunk_cache()
        if mode == "dense":
            ranked = self._dense(dense_query or query, where, depth, passage_id)
        elif mode == "lexical":
            ranked = cache.lexical_ranking(query, where, depth)
        elif passage_id is not None and len(pool := cache.matching(where)) <= k:
            # Every chunk of this passage is returned (the usual tutoring case): order
            # them by BM25 and skip the query embedding, which would choose nothing.
            lexical = [cid for cid, _ in cache.lexical_ranking(query, where, depth)]
            order = lexical + [cid for cid in pool if cid not in lexical]
            ranked = reciprocal_rank_fusion([order], k=self.rrf_k)
        else:
            dense = self._dense(dense_query or query, where, depth, passage_id)
            lexical = cache.lexical_ranking(query, where, depth)
            ranked = reciprocal_rank_fusion(
                [[cid for cid, _ in dense], [cid for cid, _ in lexical]],
                weights=self.weights,
                k=self.rrf_k,
            )
        spans: list[Span] = []
        taken: dict[str, int] = {}
        for cid, score in ranked:
            if cid not in cache.position:  # written by another worker since the cache
                continue
            span = cache.span(cid, score)
            if taken.get(span.passage_id, 0) < limit:
                taken[span.passage_id] = taken.get(span.passage_id, 0) + 1
                sealed = cache.metas[cache.position[cid]].get("sealed")
                spans.append(self._open_span(span) if sealed else span)
        log.debug(
            "search mode=%s k=%d hits=%d ms=%.1f",
            mode,
            k,
            len(spans),
            1000 * (time.perf_counter() - start),
        )
        return spans[:k]

    def _chunk_cache(self) -> ChunkCache:
        """Every chunk in memory; another worker's writes are noticed (by the count)
        within ``CHUNKS_RECHECK_S``, this process's own at once. While this process
        writes, the cache from before the write serves (the writer builds the next)."""
        cache = self._cache
        if cache is not None and self._current():
            return cache
        with self._lock:
            if self._cache is not None and self._current():
                return self._cache
            self._checked = time.monotonic()
            if self._cache is None or len(self._cache.ids) != self._chunks.count():
                self._cache = self._read_chunks()
            return self._cache

    def _current(self) -> bool:
        """Whether the held chunk cache may serve without comparing counts."""
        return bool(self._writing) or time.monotonic() - self._checked < CHUNKS_RECHECK_S

    def _read_chunks(self) -> ChunkCache:
        count = self._chunks.count()
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        for offset in range(0, count, _PAGE):
            got = self._chunks.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            ids += got["ids"]
            texts += got["documents"]
            metas += got["metadatas"]
        return ChunkCache(ids, texts, metas)


def _entry_of(passage: Passage, digest: str, reading_level: float | None = None) -> Entry:
    """``reading_level``: the readability model's estimate of the whole text (what the
    monitor watches for drift), beside ``grade``, the grade the passage is filed under."""
    return Entry(
        passage_id=passage.passage_id,
        title=passage.title,
        grade=passage.grade,
        genre=passage.genre,
        source=passage.source,
        content_hash=digest,
        topics=list(passage.topics),
        characters=list(passage.characters),
        reading_level=None if reading_level is None else round(float(reading_level), 3),
    )


def _entry(record: PassageRecord) -> Entry:
    return _entry_of(record.passage, record.content_hash, record.grade_level)


def _add_batched(collection: Any, size: int, **columns: list[Any]) -> None:
    """``collection.add`` in slices the client accepts (a long passage has many sentences)."""
    n = len(columns["ids"])
    for i in range(0, n, size):
        collection.add(**{k: v[i : i + size] for k, v in columns.items()})
