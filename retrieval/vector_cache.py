"""Sentence vectors kept on disk, so a passage read again is not embedded again.

Loading torch and the embedding model costs a command seconds of CPU; a warm
``readloom questions`` on a passage it has seen before needs only the vectors of its
sentences. Rows are keyed by a SHA-256 of the model name and the text, so the file holds
no text, and only callers that embed passage sentences use it (never a child's message).
It lives under the private home (0600) and keeps the newest ``MAX_ROWS`` vectors.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

MAX_ROWS = 50_000  # ~77 MB at 384 float32 each
_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (digest BLOB PRIMARY KEY, vec BLOB NOT NULL)"


def digest(model: str, text: str) -> bytes:
    return hashlib.sha256(f"{model}\0{text}".encode()).digest()


class VectorCache:
    """``cache.embed(texts, embed_fn)``: cached rows read back, the rest embedded and kept."""

    def __init__(
        self, path: Path, *, model: str, dimensions: int, max_rows: int = MAX_ROWS,
        readonly: bool = False,
    ):  # fmt: skip
        """``readonly`` opens an existing file for lookups only (``put`` is refused)."""
        self.path, self.model, self.dimensions, self.max_rows = path, model, dimensions, max_rows
        self.readonly = readonly
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None and self.readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, timeout=5, check_same_thread=False)
        if self._conn is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def get(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Index in ``texts`` -> its stored vector, for the texts that have one."""
        keys = [digest(self.model, t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            db = self._db()
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                marks = ",".join("?" * len(part))
                rows = db.execute(
                    f"SELECT digest, vec FROM vectors WHERE digest IN ({marks})", part
                )
                for key, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (self.dimensions,):
                        found[key] = vec
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        if self.readonly:
            raise sqlite3.OperationalError("this vector cache is read-only")
        rows = [
            (digest(self.model, t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._lock:
            db = self._db()
            with db:
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
                db.execute(
                    "DELETE FROM vectors WHERE rowid <= (SELECT MAX(rowid) FROM vectors) - ?",
                    (self.max_rows,),
                )

    def embed(
        self, texts: Sequence[str], embed_fn: Callable[[list[str]], np.ndarray]
    ) -> np.ndarray:
        """Vectors for ``texts`` in order; ``embed_fn`` runs only on the ones not stored."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        try:
            hits = self.get(texts)
        except sqlite3.Error:  # a damaged or locked cache only costs the embedding
            hits = {}
        for i, vec in hits.items():
            out[i] = vec
        todo = sorted({t for i, t in enumerate(texts) if i not in hits})
        if todo:
            fresh = embed_fn(todo)
            where = {t: k for k, t in enumerate(todo)}
            for i, t in enumerate(texts):
                if i not in hits:
                    out[i] = fresh[where[t]]
            with contextlib.suppress(sqlite3.Error):  # not kept: embedded again next time
                self.put(todo, fresh)
        return out

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
