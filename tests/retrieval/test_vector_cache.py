"""The on-disk sentence-vector cache: a passage read again is not embedded again."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import numpy as np

from readloom.retrieval.vector_cache import VectorCache


class CountingEmbed:
    """A deterministic stand-in for the model's call, counting the texts it is given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        rows = [np.frombuffer(t.ljust(16)[:16].encode(), dtype=np.uint8)[:4] for t in texts]
        return np.asarray(rows, dtype=np.float32) / 255.0


def test_only_texts_not_stored_are_embedded_and_order_is_kept(tmp_path) -> None:
    fn = CountingEmbed()
    path = tmp_path / "cache" / "v.sqlite"
    first = VectorCache(path, model="m", dimensions=4).embed(["b", "a", "b"], fn)
    assert sorted(fn.seen) == ["a", "b"]  # a repeated text is embedded once
    again = VectorCache(path, model="m", dimensions=4).embed(["a", "c", "b"], fn)  # new process
    assert fn.seen[2:] == ["c"]
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    np.testing.assert_array_equal(again[1], fn(["c"])[0])


def test_another_model_or_dimension_does_not_reuse_rows(tmp_path) -> None:
    fn = CountingEmbed()
    path = tmp_path / "v.sqlite"
    VectorCache(path, model="m", dimensions=4).embed(["a"], fn)
    VectorCache(path, model="other", dimensions=4).embed(["a"], fn)
    assert fn.seen == ["a", "a"]
    wide = VectorCache(path, model="m", dimensions=8)
    assert wide.get(["a"]) == {}


def test_the_file_holds_no_text_and_keeps_only_the_newest_rows(tmp_path) -> None:
    path = tmp_path / "v.sqlite"
    cache = VectorCache(path, model="m", dimensions=4, max_rows=3)
    cache.embed([f"secret sentence {i}" for i in range(5)], CountingEmbed())
    cache.close()
    assert b"secret" not in path.read_bytes()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 3
    kept = VectorCache(path, model="m", dimensions=4).get(
        [f"secret sentence {i}" for i in range(5)]
    )
    assert sorted(kept) == [2, 3, 4]


def test_a_damaged_cache_file_costs_only_the_embedding(tmp_path) -> None:
    path = tmp_path / "v.sqlite"
    path.write_bytes(b"not a database" * 100)
    fn = CountingEmbed()
    out = VectorCache(path, model="m", dimensions=4).embed(["a", "b"], fn)
    assert fn.seen == ["a", "b"] and out.shape == (2, 4)


def test_embed_sentences_matches_the_model_and_reads_back_without_torch(tmp_path) -> None:
    """The real model: cached vectors equal fresh ones, and a second process reading them
    back never imports torch."""
    from readloom.retrieval.embeddings import embed, embed_sentences

    texts = ["Kofi put on his green boots.", "The sun came out."]
    np.testing.assert_allclose(embed_sentences(texts), embed(texts), atol=1e-6)
    code = (
        "import sys; from readloom.retrieval.embeddings import embed_sentences; "
        f"v = embed_sentences({texts!r}); "
        "print(v.shape, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "(2, 384) False", out.stderr[-2000:]
