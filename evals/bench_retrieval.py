"""Retrieval benchmark: recall of the gold section for FairytaleQA questions.

    python evals/bench_retrieval.py [--split val] [--stories N] [--modes dense,hybrid,lexical]

Every section of every story of the split becomes one passage, all in ONE
collection (a fresh READLOOM_HOME in a temp folder), ingested through the real
PassageStore (real chunking, embedding model, Chroma, BM25). Each question is
searched with no filter, as a student's question would be; a hit is a returned
span from one of the question's gold sections (``cor_section``; summary questions
list several). recall@k counts the first k spans the store returns (``k`` of the
retriever tool); across passages the store returns one span per passage by default
(``hybrid_all_spans`` lifts that, so two spans of one section take two places). Latency:
the median per query, for a question seen for the first time and for one asked again
(a later turn of the same session reuses its query embedding). Tune on ``train``
(``--split train --stories 40``); the FairytaleQA test split is held out.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from readloom.retrieval.models import Passage
from readloom.settings import Settings, configure_offline_environment

KS = (1, 5)


def load_split(root: Path, split: str, stories: int | None) -> tuple[list[Passage], list[dict]]:
    base = root / "data-by-train-split"
    story_files = sorted((base / "section-stories" / split).glob("*-story.csv"))
    if not story_files:
        sys.exit(f"no FairytaleQA stories under {base} (set READLOOM_DATA_PATH)")
    passages: list[Passage] = []
    questions: list[dict] = []
    for path in story_files[:stories]:
        story = path.name.removesuffix("-story.csv")
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                passages.append(
                    Passage(
                        passage_id=f"{story}--{row['section']}",
                        title=f"{story.replace('-', ' ').title()} ({row['section']})",
                        text=row["text"],
                        grade=5,
                        genre="fiction",
                        source="fairytaleqa",
                    )
                )
        qpath = base / "questions" / split / f"{story}-questions.csv"
        with qpath.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                sections = [s.strip() for s in row["cor_section"].split(",") if s.strip()]
                questions.append(
                    {
                        "question": row["question"],
                        "kind": row["local-or-sum"].strip(),
                        "gold": {f"{story}--{s}" for s in sections},
                    }
                )
    return passages, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="val", choices=["train", "val"])
    parser.add_argument("--stories", type=int, default=None, help="first N stories only")
    parser.add_argument(
        "--modes",
        default="dense,hybrid,lexical,hybrid_all_spans",
        help="hybrid_all_spans: hybrid without the one-span-per-passage default",
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    configure_offline_environment()
    data_root = Settings().data_path / "fairytaleqa"
    passages, questions = load_split(data_root, args.split, args.stories)

    with tempfile.TemporaryDirectory(prefix="readloom-bench-") as home:
        os.environ["READLOOM_HOME"] = home
        from readloom.retrieval.store import PassageStore

        store = PassageStore(Settings(home=Path(home)))
        start = time.perf_counter()
        report = store.ingest_passages(passages, progress=sys.stderr.isatty())
        ingest_s = time.perf_counter() - start

        summary: dict = {
            "split": args.split,
            "stories": len({p.passage_id.split("--")[0] for p in passages}),
            "sections": len(passages),
            "chunks": store._chunks.count(),
            "questions": len(questions),
            "ingest_seconds": round(ingest_s, 1),
            "ingested": len(report.added),
            "modes": {},
        }

        def search(mode: str, question: str) -> list:
            if mode == "hybrid_all_spans":
                return store.search(question, k=max(KS), per_passage=max(KS))
            return store.search(question, k=max(KS), mode=mode)

        store.search("warm up the caches", k=max(KS))
        for mode in modes:
            hits: dict[str, list[float]] = defaultdict(list)
            took: list[float] = []
            for q in questions:
                start = time.perf_counter()
                spans = search(mode, q["question"])
                took.append(time.perf_counter() - start)
                for k in KS:
                    found = float(any(s.passage_id in q["gold"] for s in spans[:k]))
                    hits[f"recall@{k}"].append(found)
                    hits[f"recall@{k}_{q['kind']}"].append(found)
            again: list[float] = []
            for q in questions[:200]:  # the same question again (a later turn): reused
                start = time.perf_counter()
                search(mode, q["question"])
                again.append(time.perf_counter() - start)
            result = {name: round(sum(v) / len(v), 4) for name, v in sorted(hits.items())}
            result["ms_per_query"] = round(1000 * sum(took) / max(1, len(took)), 1)
            result["ms_median_new_query"] = round(1000 * statistics.median(took), 2)
            result["ms_median_repeated_query"] = round(1000 * statistics.median(again), 2)
            summary["modes"][mode] = result
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
