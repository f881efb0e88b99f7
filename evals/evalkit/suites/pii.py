"""PII detection: recall and precision per entity type on Presidio's synthetic set (written
by Microsoft, not by us) and on the K-12 messages' ``test`` split (the recognizers were
tuned on ``dev`` only), plus how often plain K-12 messages get anything redacted.

Scoring is the guardrails helper's (``evals/eval_pii.py``: entity-level, overlap, type
mapping), so these figures and theirs agree; the detector is the run's own redactor.
"""

from __future__ import annotations

import json

from evalkit import provenance
from evalkit.context import EvalContext
from evalkit.model import SuiteOutput

MIN_GOLD = 10  # per-type figures on fewer gold spans are too noisy to report


def run(ctx: EvalContext) -> SuiteOutput:
    import eval_pii  # evals/eval_pii.py (the harness puts evals/ on sys.path)

    out = SuiteOutput()
    redactor = ctx.services().guards.redactor
    synth_path = ctx.data_path / "presidio_synth_pii" / "synth_dataset_v2.json"
    synth = json.loads(synth_path.read_text(encoding="utf-8"))
    examples = [
        (s["full_text"], [{"entity_type": x["entity_type"], "start": x["start_position"],
                           "end": x["end_position"]} for x in s["spans"]], frozenset())
        for s in synth
    ]  # fmt: skip
    res = eval_pii.score(
        examples, redactor, gold_map=eval_pii.SYNTH_MAP, not_scored=eval_pii.SYNTH_NOT_SCORED,
        pred_label=lambda t: eval_pii.PRED_TO_SYNTH.get(t, t),
    )  # fmt: skip
    _add(out, "presidio", res)
    out.datasets.append(provenance.dataset("presidio-synth-pii-v2", synth_path, records=len(synth)))

    k12_path = ctx.datasets_dir / "k12_pii_messages.jsonl"
    plain_path = ctx.datasets_dir / "k12_plain_messages.jsonl"
    rows = eval_pii.load_jsonl(k12_path)
    test = eval_pii.k12_examples(rows, "test")
    _add(out, "k12_test", eval_pii.score(test, redactor))
    plain = eval_pii.k12_examples(eval_pii.load_jsonl(plain_path))
    plain_res = eval_pii.score(plain, redactor)
    out.add("k12_plain.false_positive_rate",
            round(plain_res["messages_with_false_positive"] / len(plain), 4), n=len(plain),
            note="plain K-12 messages (no PII) in which anything was redacted")  # fmt: skip
    out.datasets += [
        provenance.dataset("k12-pii-messages", k12_path, records=len(rows),
                           subset=f"split=test ({len(test)} messages)"),
        provenance.dataset("k12-plain-messages", plain_path, records=len(plain)),
    ]  # fmt: skip
    out.notes.append(
        "Entity-level scoring with overlap (evals/eval_pii.py); TITLE and NRP gold spans are "
        f"not personal data and not scored; per-type figures shown for types with >= {MIN_GOLD} "
        "gold spans (all types count in the micro figures)."
    )
    intl_path = ctx.datasets_dir / "k12_pii_international.jsonl"
    intl_rows = eval_pii.load_jsonl(intl_path)
    intl = eval_pii.international(intl_rows, redactor)
    out.add("k12_intl.redacted", intl["redacted"], n=intl["gold"],
            note="international formats and non-Latin scripts: gold spans fully redacted")  # fmt: skip
    for kind in ("category", "script"):
        for name, value in intl[f"per_{kind}"].items():
            out.add(f"k12_intl.{kind}.{name}.redacted", value, n=intl[f"gold_per_{kind}"][name])
    out.datasets.append(
        provenance.dataset("k12-pii-international", intl_path, records=len(intl_rows))
    )
    out.details["presidio_per_type"] = res["per_type"]
    out.details["k12_international"] = intl
    return out


def _add(out: SuiteOutput, prefix: str, res: dict) -> None:
    micro = res["micro"]
    gold = sum(v["gold"] for v in res["per_type"].values())
    predicted = sum(v["predicted"] for v in res["per_type"].values())
    out.add(f"{prefix}.micro.recall", micro["recall"], n=gold)
    out.add(f"{prefix}.micro.precision", micro["precision"], n=predicted)
    out.add(
        f"{prefix}.micro.redacted",
        micro["redacted"],
        n=gold,
        note="gold spans whose every letter and digit was covered by some redaction",
    )
    for label, v in sorted(res["per_type"].items()):
        if v["gold"] >= MIN_GOLD:
            out.add(f"{prefix}.{label}.recall", v["recall"], n=v["gold"])
            if v["precision"] is not None:
                out.add(f"{prefix}.{label}.precision", v["precision"], n=v["predicted"])
