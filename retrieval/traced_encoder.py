"""One text's embedding through a traced copy of the model: the hot path of a search.

A new question's retrieval is mostly its query embedding, and for one short text most
of ``SentenceTransformer.encode`` is Python: tokenizer plumbing, per-layer dispatch,
pooling. A frozen TorchScript trace of the same weights (``torch.jit.trace`` is
deprecated in torch 2.x but present in the pinned release; ``torch.compile`` needs a C
compiler and tens of seconds per process) ran in 0.63x the time, interleaved on one
machine, with vectors equal to ``encode``'s (cosine ≥ 0.9999998 over 400 FairytaleQA
questions).

Only single texts go through it, so there is never padding for the trace to get wrong.
Tracing costs about a second, so a process traces only after it has embedded a few
single texts the ordinary way: a short CLI run never pays, a server or a long session
pays once. The trace is checked against ``encode`` on two texts of different lengths
before use; if it disagrees or tracing fails, the ordinary path is kept for the process.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TRACE_AFTER = 3  # single texts embedded the ordinary way before tracing pays off
_AGREEMENT = 0.99999  # cosine the trace must reach against encode on the check texts
_CHECK_TEXTS = (
    "What did the little girl see in the woods?",
    "Why",
)

_lock = threading.Lock()
_state: dict[str, Any] = {"seen": 0, "traced": None, "failed": False}


def _pooled(bert: Any) -> Any:
    import torch

    class MeanPooled(torch.nn.Module):
        """The model's transformer, then mean pooling and unit length, as in modules.json."""

        def __init__(self, transformer: Any) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                return_dict=False,
            )[0]
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            mean = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1)

    return MeanPooled(bert).eval()


def _features(model: Any, text: str) -> tuple[Any, Any, Any]:
    f = model.tokenizer(
        [text], return_tensors="pt", truncation=True, max_length=model.max_seq_length
    )
    ids = f["input_ids"]
    types = f.get("token_type_ids")
    if types is None:
        import torch

        types = torch.zeros_like(ids)
    return ids, f["attention_mask"], types


def _trace(model: Any, encode: Any) -> Any:
    import torch
    from transformers.utils import logging as hf_logging

    start = time.perf_counter()
    verbosity = hf_logging.get_verbosity()
    # Tracing reads every attribute of the model, and transformers then prints notes
    # (an unused loss type) to stderr: none of that belongs on a user's screen.
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # torch.jit's deprecation, the tracer's notes
            traced = torch.jit.freeze(
                torch.jit.trace(
                    _pooled(model[0].auto_model),
                    _features(model, _CHECK_TEXTS[0]),
                    check_trace=False,
                )
            )
    finally:
        hf_logging.set_verbosity(verbosity)
    with torch.inference_mode():
        for text in _CHECK_TEXTS:
            got = traced(*_features(model, text)).numpy()[0]
            want = encode(text)
            if float(np.dot(got, want)) < _AGREEMENT:
                raise ValueError(f"traced model disagrees with encode on {len(text)} chars")
    log.info("embedding_model_traced seconds=%.2f", time.perf_counter() - start)
    return traced


def embed_one(model: Any, text: str, encode: Any) -> np.ndarray:
    """``encode(text)`` (a unit float32 vector), through the trace once it pays off."""
    traced = _state["traced"]
    if traced is None:
        with _lock:
            _state["seen"] += 1
            due = _state["seen"] > TRACE_AFTER and not _state["failed"]
            if due and _state["traced"] is None:
                try:
                    _state["traced"] = _trace(model, encode)
                except Exception as exc:  # noqa: BLE001 - the ordinary path still works
                    _state["failed"] = True
                    log.warning("embedding_trace_unused error=%s", type(exc).__name__)
            traced = _state["traced"]
        if traced is None:
            return encode(text)
    import torch

    with torch.inference_mode():
        vector = traced(*_features(model, text)).numpy()[0]
    return np.asarray(vector, dtype=np.float32)


def reset() -> None:
    """Forget the trace (tests)."""
    with _lock:
        _state.update(seen=0, traced=None, failed=False)
