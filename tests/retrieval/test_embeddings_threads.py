"""Embedding from many threads at once (graders and the offline tier run in worker
threads): the Hugging Face fast tokenizer is not safe to call concurrently, so every
call must give the vector a lone call gives, and none may fail."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from readloom.retrieval import embeddings

TEXTS = [
    "Why did Wren climb the lighthouse stairs?",
    "because the lamp went out",
    "The keeper lit the lamp every night, even when the sea was calm and nobody sailed.",
    "storm",
    "How do camels save water in the desert when there is no rain for months?",
    "they keep it in their bodies",
]


def test_concurrent_embeds_neither_fail_nor_differ_from_lone_ones():
    want = {t: embeddings.embed([t])[0] for t in TEXTS}
    pair_want = embeddings.embed(TEXTS[:2])
    # single texts (through the traced model once it is due) and padded batches, mixed
    jobs = [j for _ in range(60) for j in ([TEXTS[0]], TEXTS[:2], [TEXTS[4]], [TEXTS[3]])]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(embeddings.embed, jobs))
    for texts, vectors in zip(jobs, got, strict=True):
        expected = pair_want if len(texts) == 2 else want[texts[0]][None, :]
        np.testing.assert_allclose(vectors, expected, atol=1e-4)
