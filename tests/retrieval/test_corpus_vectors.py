"""The installation's file of shipped-sentence vectors: a first start in a new home reads
them instead of loading the model, the vectors are the ones ingest computes, and a pasted
passage is never written there."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np

from readloom.retrieval import chunking
from readloom.retrieval.corpus_vectors import embed_known_first, warm_up
from readloom.retrieval.embeddings import embed
from readloom.retrieval.models import Passage
from readloom.retrieval.passages import load_paths
from readloom.retrieval.store import PassageStore
from readloom.settings import Settings

COLD = """
import json, sys
from readloom.cli import main
try:
    main(["questions", "--passage-id", "kofi-and-the-big-puddle", "--count", "3"],
         standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def _rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]


def test_warm_up_then_a_first_start_loads_no_model_and_pasted_text_stays_out(tmp_path) -> None:
    vectors = tmp_path / "install" / "corpus-vectors.sqlite"
    settings = Settings(home=tmp_path / "home", corpus_vectors_path=vectors)
    rows = warm_up(settings)
    passages = load_paths([settings.corpus_path], source="readloom")
    texts = [t for p in passages[:16] for t in chunking.plan(p.text).texts()]
    assert rows == _rows(vectors) > len(passages) and oct(vectors.stat().st_mode)[-3:] == "644"
    assert np.array_equal(embed_known_first(texts, settings), embed(texts))  # same group, bits

    pasted = Passage(
        passage_id="pasted-note", title="A note", grade=3, genre="fiction",
        text="Priya Raman walked her dog past the bakery. The dog barked at a cat.",
    )  # fmt: skip
    sentence = "Priya Raman walked her dog past the bakery."
    mixed = embed_known_first([texts[0], sentence], settings)
    assert np.array_equal(mixed[0], embed_known_first(texts, settings)[0])  # read from the file
    assert np.allclose(mixed[1], embed([sentence])[0], atol=1e-5)  # embedded, not stored
    before = vectors.read_bytes()
    PassageStore(settings).ingest_passages([pasted])
    assert vectors.read_bytes() == before  # ingest only reads the file

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "READLOOM_HOME": str(tmp_path / "cold"),
           "READLOOM_CORPUS_VECTORS_PATH": str(vectors)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", COLD], env=env, capture_output=True, text=True, timeout=600
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}, done.stderr[-2000:]
    assert "Evidence:" in done.stdout
