"""A single text's embedding through the traced model: used only after a few ordinary
ones, equal to ``encode``'s vector, and given up (not half-used) when it disagrees."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from readloom.retrieval import embeddings, traced_encoder

TEXTS = [
    "Why did Wren climb the lighthouse stairs?",
    "storm",
    "The keeper lit the lamp every night, even when the sea was calm and nobody sailed.",
    "what does flickered mean",
    "How do camels save water in the desert when there is no rain for months?",
]


@pytest.fixture(autouse=True)
def _fresh_trace():
    traced_encoder.reset()
    yield
    traced_encoder.reset()


def _ordinary(texts: list[str]) -> np.ndarray:
    return embeddings._encode(embeddings.get_model(), texts)


def test_traced_vectors_equal_encode_for_texts_of_any_length():
    for text in TEXTS[: traced_encoder.TRACE_AFTER]:
        embeddings.embed([text])
    assert traced_encoder._state["traced"] is None  # not yet: a short run never traces
    got = np.vstack([embeddings.embed([t]) for t in TEXTS])
    assert traced_encoder._state["traced"] is not None
    want = _ordinary(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), embeddings.DIMENSIONS)
    cosines = (got * want).sum(axis=1)
    assert cosines.min() > 0.99999
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_a_batch_never_uses_the_trace():
    for text in TEXTS:
        embeddings.embed([text])
    assert traced_encoder._state["traced"] is not None
    batch = embeddings.embed(TEXTS[:3])
    assert np.array_equal(batch, _ordinary(TEXTS[:3]))  # padded batches: encode only


def test_a_trace_that_disagrees_is_never_used(monkeypatch):
    monkeypatch.setattr(traced_encoder, "_AGREEMENT", 1.01)  # no real trace can reach it
    for text in TEXTS:
        vector = embeddings.embed([text])[0]
        assert np.array_equal(vector, _ordinary([text])[0])
    assert traced_encoder._state["failed"] is True
    assert traced_encoder._state["traced"] is None


QUIET = """
from readloom.retrieval.embeddings import embed
for text in %r:
    embed([text])
from readloom.retrieval import traced_encoder
assert traced_encoder._state["traced"] is not None
"""


def test_tracing_prints_nothing_on_a_users_screen(tmp_path):
    env = {**os.environ, "READLOOM_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", QUIET % (TEXTS,)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
