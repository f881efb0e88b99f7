"""Retrieval recall@k on FairytaleQA val: does searching with an expert's question return
a chunk of the section the question is about?

Same protocol as ``evals/bench_retrieval.py``: every section of every val story is one
passage, all in one collection (its own folder under the run's READLOOM_HOME) through
the real ``PassageStore`` (chunking, embedding model, Chroma, BM25, fusion); questions
are searched unfiltered, as a student's would be; a hit is a span from a gold section
(``cor_section``). recall@k counts the first k spans returned.
"""

from __future__ import annotations

import time

from evalkit import provenance
from evalkit.context import EvalContext
from evalkit.fairytaleqa import load_split, split_files
from evalkit.model import SuiteOutput

KS = (1, 5)
QUESTION_SAMPLE = 2000  # above the 1,025 val questions: all are searched (lower it to save time)


def run(ctx: EvalContext) -> SuiteOutput:
    from readloom.retrieval.models import Passage
    from readloom.retrieval.store import PassageStore

    out = SuiteOutput()
    stories = load_split(ctx.data_path, "val")
    passages = [
        Passage(passage_id=f"{s.name}--{sid}", title=f"{s.name} ({sid})", text=text, grade=5,
                genre="fiction", source="fairytaleqa")
        for s in stories for sid, text in sorted(s.sections.items())
    ]  # fmt: skip
    questions = [
        (q.question, {f"{s.name}--{sid}" for sid in q.sections}, q.local)
        for s in stories for q in s.questions
    ]  # fmt: skip
    total_questions = len(questions)
    questions = ctx.sample(questions, QUESTION_SAMPLE, "retrieval-questions")
    k_product = ctx.settings.retrieval_k
    ks = sorted({*KS, k_product})
    settings = ctx.settings.model_copy(
        update={"home": ctx.settings.home / "eval-retrieval", "collection": "fairytaleqa-val"}
    )
    settings.ensure_home()
    store = PassageStore(settings)
    start = time.perf_counter()
    report = store.ingest_passages(passages)
    ingest_s = time.perf_counter() - start
    hits: dict[str, list[float]] = {}
    ranks: list[float] = []
    start = time.perf_counter()
    for question, gold, local in questions:
        spans = store.search(question, k=max(ks))
        first = next((i for i, s in enumerate(spans, 1) if s.passage_id in gold), None)
        ranks.append(1 / first if first else 0.0)
        for k in ks:
            found = float(first is not None and first <= k)
            hits.setdefault(f"recall@{k}", []).append(found)
            hits.setdefault(f"recall@{k}_{'local' if local else 'summary'}", []).append(found)
    query_ms = 1000 * (time.perf_counter() - start) / max(1, len(questions))
    for name, values in sorted(hits.items()):
        out.add(name, round(sum(values) / len(values), 4), n=len(values))
    out.add(f"mrr@{max(ks)}", round(sum(ranks) / len(ranks), 4), n=len(ranks))
    out.add("ms_per_query", round(query_ms, 1), n=len(questions))
    out.add("ingest_seconds", round(ingest_s, 1), n=len(passages))
    out.datasets.append(provenance.dataset(
        "fairytaleqa-val", ctx.data_path / "fairytaleqa", files=split_files(ctx.data_path, "val"),
        records=total_questions,
        subset=f"all {len(stories)} val stories, {len(passages)} sections; "
        + (
            f"{len(questions)} of {total_questions} questions (seeded draw)"
            if len(questions) < total_questions
            else f"all {total_questions} questions"
        ),
    ))  # fmt: skip
    out.notes.append(
        f"{len(passages)} sections ingested ({len(report.refused)} refused), {len(questions)} "
        f"questions, hybrid search; recall@{k_product} is the retriever tool's k "
        "(READLOOM_RETRIEVAL_K)."
    )
    return out
