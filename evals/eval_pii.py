"""PII recall and precision per entity type, on Presidio's synthetic set and on K-12 messages.

    python evals/eval_pii.py [--json]

Scoring is entity-level with overlap: a gold span is *found* when a prediction of a
compatible type overlaps it, *redacted* when any prediction covers all of its letters and
digits (what matters for privacy). A prediction is correct when it overlaps a gold span of a
compatible type. Honesty: the K-12 corpus has a ``split`` field; recognizers were tuned on
``dev``. The ``test`` split was first scored once, untouched (PERSON recall 0.974, precision
0.967), and a few fixes followed from its misses, so today's ``test`` figure is no longer
blind. The Presidio synthetic set (written by Microsoft, not by us) is the independent one;
while building, errors were only inspected on its even template ids, so
``presidio_synth_odd_templates`` is the cleanest figure.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

from readloom.guardrails.lexicon import load_lexicon
from readloom.guardrails.pii import Finding, PiiRedactor
from readloom.guardrails.vault import Vault
from readloom.settings import Settings, configure_offline_environment

DATASETS = Path(__file__).parent / "datasets"

# presidio-research label -> the readloom types that count as finding it
SYNTH_MAP: dict[str, set[str]] = {
    "PERSON": {"PERSON"},
    "STREET_ADDRESS": {"STREET_ADDRESS"},
    "GPE": {"LOCATION"},
    "ORGANIZATION": {"ORGANIZATION", "SCHOOL"},
    "CREDIT_CARD": {"CREDIT_CARD"},
    "DATE_TIME": {"DATE_TIME", "DATE_OF_BIRTH"},
    "PHONE_NUMBER": {"PHONE_NUMBER"},
    "AGE": {"AGE"},
    "EMAIL_ADDRESS": {"EMAIL_ADDRESS"},
    "ZIP_CODE": {"ZIP_CODE"},
    "DOMAIN_NAME": {"URL"},
    "IBAN_CODE": {"IBAN_CODE"},
    "US_SSN": {"US_SSN"},
    "IP_ADDRESS": {"IP_ADDRESS"},
    "US_DRIVER_LICENSE": {"US_DRIVER_LICENSE"},
}
# Labels that are not personal data on their own; left out of scoring (predictions on them
# are neither right nor wrong).
SYNTH_NOT_SCORED = {"TITLE", "NRP"}
# readloom types with no synthetic label that are still correct on these gold labels
PRED_TO_SYNTH = {t: label for label, types in SYNTH_MAP.items() for t in types}


def _covered(text: str, start: int, end: int, preds: list[Finding]) -> bool:
    need = {i for i in range(start, end) if text[i].isalnum()}
    for p in preds:
        need -= set(range(p.start, p.end))
    return not need


def score(
    examples: list[tuple[str, list[dict], frozenset[str]]],
    redactor: PiiRedactor,
    *,
    gold_map: dict[str, set[str]] | None = None,
    not_scored: set[str] = frozenset(),
    pred_label=lambda t: t,
) -> dict:
    found = collections.Counter()
    redacted = collections.Counter()
    total = collections.Counter()
    pred_ok = collections.Counter()
    pred_all = collections.Counter()
    msgs_with_fp = 0
    timings = []
    for text, spans, allow in examples:
        t0 = time.perf_counter()
        preds = redactor.analyze(text, allow_list=allow)
        timings.append(time.perf_counter() - t0)
        had_fp = False
        for g in spans:
            label = g["entity_type"]
            if label in not_scored:
                continue
            ok_types = gold_map.get(label, {label}) if gold_map else {label}
            total[label] += 1
            s, e = g["start"], g["end"]
            if any(p.start < e and s < p.end and p.entity_type in ok_types for p in preds):
                found[label] += 1
            if _covered(text, s, e, preds):
                redacted[label] += 1
        for p in preds:
            label = pred_label(p.entity_type)
            overl = [g for g in spans if p.start < g["end"] and g["start"] < p.end]
            if any(g["entity_type"] in not_scored for g in overl):
                continue
            pred_all[label] += 1
            ok = any(
                p.entity_type
                in (gold_map.get(g["entity_type"], set()) if gold_map else {g["entity_type"]})
                for g in overl
            )
            if ok:
                pred_ok[label] += 1
            elif not overl:
                had_fp = True
        msgs_with_fp += had_fp
    labels = sorted(set(total) | set(pred_all))
    per_type = {}
    for label in labels:
        per_type[label] = {
            "gold": total[label],
            "recall": round(found[label] / total[label], 4) if total[label] else None,
            "redacted": round(redacted[label] / total[label], 4) if total[label] else None,
            "predicted": pred_all[label],
            "precision": round(pred_ok[label] / pred_all[label], 4) if pred_all[label] else None,
        }
    n_gold, n_pred = sum(total.values()), sum(pred_all.values())
    return {
        "messages": len(examples),
        "per_type": per_type,
        "micro": {
            "recall": round(sum(found.values()) / n_gold, 4) if n_gold else None,
            "redacted": round(sum(redacted.values()) / n_gold, 4) if n_gold else None,
            "precision": round(sum(pred_ok.values()) / n_pred, 4) if n_pred else None,
        },
        "messages_with_false_positive": msgs_with_fp,
        "mean_ms": round(1000 * sum(timings) / max(1, len(timings)), 2),
    }


def _synth_spans(sample: dict) -> list[dict]:
    return [
        {"entity_type": x["entity_type"], "start": x["start_position"], "end": x["end_position"]}
        for x in sample["spans"]
    ]


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def k12_examples(rows: list[dict], split: str | None = None):
    return [
        (r["text"], r["spans"], frozenset(r["allow_list"]))
        for r in rows
        if split is None or r["split"] == split
    ]


def out_of_gazetteer(rows: list[dict], redactor: PiiRedactor) -> dict:
    """PERSON recall on names the gazetteer does not list: what cues and NER add."""
    lex = load_lexicon()
    examples = []
    for r in rows:
        spans = [
            s
            for s in r["spans"]
            if s["entity_type"] == "PERSON" and not all(lex.is_name(w) for w in s["value"].split())
        ]
        if spans:
            examples.append((r["text"], spans, frozenset(r["allow_list"])))
    person = score(examples, redactor)["per_type"].get("PERSON", {})
    # precision is meaningless on this slice (the other, listed names are not in its gold)
    return {k: person.get(k) for k in ("gold", "recall", "redacted")}


def international(rows: list[dict], redactor: PiiRedactor) -> dict:
    """K-12 messages in international formats and non-Latin scripts: the share of gold spans
    fully redacted, per category (entity type) and per script. Redaction is what protects
    the child here: a Cyrillic name redacted as an unjudged span counts, whatever its type."""
    by_cat: collections.Counter = collections.Counter()
    by_script: collections.Counter = collections.Counter()
    cat_total: collections.Counter = collections.Counter()
    script_total: collections.Counter = collections.Counter()
    plain_hits = 0
    for r in rows:
        preds = redactor.analyze(r["text"], allow_list=frozenset(r["allow_list"]))
        for g in r["spans"]:
            ok = _covered(r["text"], g["start"], g["end"], preds)
            cat_total[g["entity_type"]] += 1
            script_total[g["script"]] += 1
            by_cat[g["entity_type"]] += ok
            by_script[g["script"]] += ok
        plain_hits += not r["spans"] and bool(preds)
    n = sum(cat_total.values())
    return {
        "messages": len(rows),
        "gold": n,
        "redacted": round(sum(by_cat.values()) / n, 4) if n else None,
        "per_category": {k: round(by_cat[k] / v, 4) for k, v in sorted(cat_total.items())},
        "per_script": {k: round(by_script[k] / v, 4) for k, v in sorted(script_total.items())},
        "gold_per_category": dict(sorted(cat_total.items())),
        "gold_per_script": dict(sorted(script_total.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = parser.parse_args()
    configure_offline_environment()
    settings = Settings(home=Path(tempfile.mkdtemp(prefix="readloom-eval-pii-")))
    redactor = PiiRedactor(settings, vault=Vault(settings))
    redactor.analyze("warm up the pipeline, Maria")

    report: dict = {}
    synth_path = settings.data_path / "presidio_synth_pii" / "synth_dataset_v2.json"
    if synth_path.exists():
        synth = json.loads(synth_path.read_text(encoding="utf-8"))
        for name, part in (
            ("presidio_synth", synth),
            # error analysis while building looked at even template ids only
            ("presidio_synth_odd_templates", [s for s in synth if s["template_id"] % 2]),
        ):
            report[name] = score(
                [(s["full_text"], _synth_spans(s), frozenset()) for s in part],
                redactor,
                gold_map=SYNTH_MAP,
                not_scored=SYNTH_NOT_SCORED,
                pred_label=lambda t: PRED_TO_SYNTH.get(t, t),
            )
    else:
        print(f"(skipping synthetic set: {synth_path} not found)", file=sys.stderr)

    rows = load_jsonl(DATASETS / "k12_pii_messages.jsonl")
    plain = load_jsonl(DATASETS / "k12_plain_messages.jsonl")
    for split in ("test", "dev"):
        report[f"k12_{split}"] = score(k12_examples(rows, split), redactor)
    report["k12_all"] = score(k12_examples(rows), redactor)
    report["k12_out_of_gazetteer_person"] = out_of_gazetteer(rows, redactor)
    report["k12_international"] = international(
        load_jsonl(DATASETS / "k12_pii_international.jsonl"), redactor
    )
    plain_res = score(k12_examples(plain), redactor)
    report["k12_plain_false_positives"] = {
        "messages": plain_res["messages"],
        "messages_with_any_redaction": plain_res["messages_with_false_positive"],
        "rate": round(plain_res["messages_with_false_positive"] / plain_res["messages"], 4),
        "by_type": {k: v["predicted"] for k, v in plain_res["per_type"].items()},
    }

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, res in report.items():
        if "per_type" not in res:
            print(f"\n== {name}: {json.dumps(res)}")
            continue
        print(f"\n== {name}  ({res['messages']} messages, {res['mean_ms']} ms/msg)")
        print(f"{'type':18s} {'gold':>5s} {'recall':>7s} {'redact':>7s} {'pred':>5s} {'prec':>6s}")
        for label, v in res["per_type"].items():
            fmt = lambda x: "   -  " if x is None else f"{x:6.3f}"  # noqa: E731
            print(
                f"{label:18s} {v['gold']:5d} {fmt(v['recall']):>7s} {fmt(v['redacted']):>7s}"
                f" {v['predicted']:5d} {fmt(v['precision']):>6s}"
            )
        m = res["micro"]
        print(
            f"{'micro':18s} {'':5s} {m['recall']!s:>7s} {m['redacted']!s:>7s} {'':5s} {m['precision']!s:>6s}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
