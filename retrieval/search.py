"""The two rankings the store fuses: dense (a chunk's best vector: its own, or one
of its sentences') and lexical (BM25 over chunk texts, held in memory)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from readloom.retrieval.chroma import matches, span_from
from readloom.retrieval.lexical import LexicalIndex
from readloom.retrieval.models import Span

# Fusion settings tuned on FairytaleQA *train* (see evals/bench_retrieval.py).
RRF_K = 2.0
DENSE_WEIGHT, LEXICAL_WEIGHT = 1.0, 2.0
CANDIDATES = 40  # chunks per ranking, before fusion
SENTENCES_PER_CHUNK = 3  # sentence hits fetched per wanted chunk

Ranking = list[tuple[str, float]]  # chunk id, score; best first


class ChunkCache:
    """Every chunk's text and metadata, plus a BM25 index over them."""

    def __init__(self, ids: list[str], texts: list[str], metas: list[dict[str, Any]]):
        self.ids, self.texts, self.metas = ids, texts, metas
        self.position = {cid: i for i, cid in enumerate(ids)}
        self.index = LexicalIndex(texts)

    def mask(self, where: dict[str, Any] | None) -> np.ndarray | None:
        return None if where is None else np.array([matches(m, where) for m in self.metas])

    def matching(self, where: dict[str, Any] | None) -> list[str]:
        """Ids of the chunks that pass ``where``, in stored (reading) order."""
        mask = self.mask(where)
        return (
            list(self.ids)
            if mask is None
            else [c for c, m in zip(self.ids, mask, strict=True) if m]
        )

    def span(self, cid: str, score: float) -> Span:
        i = self.position[cid]
        return span_from(cid, score, self.texts[i], self.metas[i])

    def lexical_ranking(self, query: str, where: dict[str, Any] | None, depth: int) -> Ranking:
        ranked = self.index.rank(query, mask=self.mask(where), limit=depth)
        return [(self.ids[i], score) for i, score in ranked]


class PassageVectors:
    """One passage's chunk and sentence vectors, in memory: ranking the few chunks of the
    passage a student is reading is a dot product, not an index query."""

    def __init__(
        self, chunk_ids: list[str], chunks: np.ndarray, owners: list[str], sentences: np.ndarray
    ):
        self.chunk_ids, self.owners = chunk_ids, owners
        self.chunks = chunks.reshape(len(chunk_ids), -1) if chunk_ids else chunks
        self.sentences = sentences.reshape(len(owners), -1) if owners else sentences

    def ranking(self, vector: np.ndarray, depth: int) -> Ranking:
        """The same scores as ``dense_ranking``: a chunk's best cosine similarity."""
        best: dict[str, float] = {}
        for ids, matrix in ((self.chunk_ids, self.chunks), (self.owners, self.sentences)):
            if not ids:
                continue
            for cid, sim in zip(ids, matrix @ vector, strict=True):
                best[cid] = max(best.get(cid, -1.0), float(sim))
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]


class DenseIndex:
    """Every chunk and sentence vector in memory, aligned with a ``ChunkCache``: a dense
    ranking across passages is two matrix products and a mask, exact, in about a
    millisecond for a school's library, where two Chroma (HNSW) queries took several.
    Used up to ``IN_MEMORY_VECTORS`` vectors (~300 MB at 384 floats); beyond that the
    store asks Chroma's index instead."""

    def __init__(
        self, cache: ChunkCache, chunk_ids: list[str], chunks: np.ndarray,
        owners: list[str], sentences: np.ndarray,
    ):  # fmt: skip
        self.cache = cache
        order = np.array([cache.position.get(cid, -1) for cid in chunk_ids], dtype=np.int64)
        keep = order >= 0  # a chunk written since the cache was read is left out
        dims = chunks.shape[1] if chunks.size else sentences.shape[1] if sentences.size else 0
        self.chunks = np.zeros((len(cache.ids), dims), dtype=np.float32)
        self.has_chunk = np.zeros(len(cache.ids), dtype=bool)
        self.chunks[order[keep]] = chunks[keep]
        self.has_chunk[order[keep]] = True
        owner = np.array([cache.position.get(cid, -1) for cid in owners], dtype=np.int64)
        self.sentences = sentences[owner >= 0] if sentences.size else sentences
        self.owner = owner[owner >= 0]

    def ranking(self, vector: np.ndarray, where: dict[str, Any] | None, depth: int) -> Ranking:
        """The same scores as ``dense_ranking``: a chunk's best cosine similarity."""
        with _one_blas_thread():
            chunk_sims, sentence_sims = self.chunks @ vector, self.sentences @ vector
        best = np.where(self.has_chunk, chunk_sims, -np.inf)
        if self.owner.size:
            np.maximum.at(best, self.owner, sentence_sims)
        mask = self.cache.mask(where)
        if mask is not None:
            best[~mask] = -np.inf
        n = min(depth, int(np.isfinite(best).sum()))
        if n == 0:
            return []
        top = np.argpartition(-best, n - 1)[:n]
        ids = self.cache.ids
        return sorted(((ids[i], float(best[i])) for i in top), key=lambda kv: (-kv[1], kv[0]))


IN_MEMORY_VECTORS = 200_000


@lru_cache(maxsize=1)
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """These products are small: BLAS threads only add waiting on a busy machine (the
    p90 of one product measured 48 ms with two threads, 7 ms with one, under load)."""
    return _blas().limit(limits=1, user_api="blas")


def dense_ranking(
    chunks: Any, sentences: Any, query: str, where: dict[str, Any] | None, depth: int
) -> Ranking:
    """Chunks by their best cosine similarity: the chunk's own vector or a sentence's."""
    from readloom.retrieval.embeddings import embed

    if chunks.count() == 0:
        return []
    vector = [embed([query])[0].tolist()]
    best: dict[str, float] = {}
    for collection, n, key in (
        (chunks, depth, None),
        (sentences, depth * SENTENCES_PER_CHUNK, "chunk_id"),
    ):
        if collection.count() == 0:
            continue
        got = collection.query(
            query_embeddings=vector, n_results=n, where=where, include=["metadatas", "distances"]
        )
        for item, meta, dist in zip(
            got["ids"][0], got["metadatas"][0], got["distances"][0], strict=True
        ):
            cid = meta[key] if key else item
            best[cid] = max(best.get(cid, -1.0), 1.0 - float(dist))
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
