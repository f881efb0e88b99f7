"""How passages and chunks are laid out in Chroma: the client, metadata, filters.

Chunks carry their passage's filterable fields (passage_id, grade, genre) and their
offsets; records carry the full passage (document) and its content hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from readloom.retrieval import chunking
from readloom.retrieval.models import Passage, Span
from readloom.settings import Settings, configure_offline_environment

INDEX_VERSION = 1  # bump when chunking or stored metadata change: forces re-ingest


class PassageRecord(BaseModel):
    passage: Passage
    grade_level: float | None = Field(description="Estimated grade of the whole text")
    content_hash: str
    n_chunks: int


def content_hash(passage: Passage) -> str:
    """Hash of everything that shapes the stored chunks (text, metadata, index version)."""
    from readloom.retrieval.readability import MODEL_PATH

    payload = {
        "passage": passage.model_dump(mode="json"),
        "index": [
            INDEX_VERSION,
            chunking.MIN_CHARS,
            chunking.MAX_CHARS,
            "sentence-vectors",
        ],
        "readability": _file_digest(MODEL_PATH),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "none"


def where_clause(
    *,
    passage_id: str | None = None,
    grade_min: int | None = None,
    grade_max: int | None = None,
    genre: str | None = None,
) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if passage_id is not None:
        clauses.append({"passage_id": passage_id})
    if grade_min is not None:
        clauses.append({"grade": {"$gte": grade_min}})
    if grade_max is not None:
        clauses.append({"grade": {"$lte": grade_max}})
    if genre is not None:
        clauses.append({"genre": genre})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def matches(meta: dict[str, Any], where: dict[str, Any] | None) -> bool:
    """The subset of Chroma's ``where`` language that ``where_clause`` produces."""
    if where is None:
        return True
    if "$and" in where:
        return all(matches(meta, clause) for clause in where["$and"])
    ((key, cond),) = where.items()
    value = meta.get(key)
    if isinstance(cond, dict):
        ((op, bound),) = cond.items()
        return value is not None and (value >= bound if op == "$gte" else value <= bound)
    return value == cond


def chroma_client(settings: Settings) -> Any:
    configure_offline_environment()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        ssl = url.scheme == "https"
        return chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if ssl else 8000),
            ssl=ssl,
            settings=chroma_settings,
        )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def chunk_id(passage_id: str, index: int) -> str:
    return f"{passage_id}#{index}"


def sentence_metadata(passage: Passage, parent: str, start: int, end: int) -> dict[str, Any]:
    """A sentence entry is only a vector: it points at its chunk, with the filter fields."""
    return {
        "passage_id": passage.passage_id,
        "grade": passage.grade,
        "genre": passage.genre,
        "chunk_id": parent,
        "start": start,
        "end": end,
    }


def chunk_metadata(passage: Passage, chunk: chunking.Chunk, digest: str) -> dict[str, Any]:
    return {
        "passage_id": passage.passage_id,
        "title": passage.title,
        "grade": passage.grade,
        "genre": passage.genre,
        "chunk_index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "content_hash": digest,
    }


def record_metadata(passage: Passage, digest: str, n_chunks: int) -> dict[str, Any]:
    return {
        "title": passage.title,
        "grade": passage.grade,
        "genre": passage.genre,
        "topics": json.dumps(passage.topics),
        "characters": json.dumps(passage.characters),
        "source": passage.source,
        "content_hash": digest,
        "n_chunks": n_chunks,
    }


def record_from(pid: str, text: str, meta: dict[str, Any]) -> PassageRecord:
    passage = Passage(
        passage_id=pid,
        title=meta["title"],
        text=text,
        grade=meta["grade"],
        genre=meta["genre"],
        topics=json.loads(meta.get("topics") or "[]"),
        characters=json.loads(meta.get("characters") or "[]"),
        source=meta.get("source") or "readloom",
    )
    return PassageRecord(
        passage=passage,
        grade_level=meta.get("grade_level"),
        content_hash=str(meta.get("content_hash", "")),
        n_chunks=int(meta.get("n_chunks", 0)),
    )


def span_from(cid: str, score: float, text: str, meta: dict[str, Any]) -> Span:
    return Span(
        passage_id=meta["passage_id"],
        chunk_id=cid,
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=float(score),
        title=meta.get("title", ""),
        grade_level=meta.get("grade_level"),
    )
