from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from readloom.errors import GuardrailDenied, InputError, NotFound
from readloom.retrieval.models import Passage
from readloom.retrieval.store import PassageStore
from readloom.settings import Settings

from .conftest import make_passages, md_file


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, embedding_model) -> PassageStore:
    """One store with the four sample passages, shared by the read-only tests."""
    store = PassageStore(Settings(home=tmp_path_factory.mktemp("loaded")))
    store.ingest_passages(make_passages())
    return store


def chunk_ids(store: PassageStore, passage_id: str) -> list[str]:
    got = store._chunks.get(where={"passage_id": passage_id}, include=[])
    return sorted(got["ids"])


# --- ingest -----------------------------------------------------------------------------


def test_second_ingest_skips_unchanged_files(store: PassageStore, corpus_dir: Path) -> None:
    first = store.ingest_paths([corpus_dir])
    assert sorted(first.added) == sorted(p.passage_id for p in make_passages())
    chunks_before = store._chunks.count()
    sentences_before = store._sentences.count()

    second = store.ingest_paths([corpus_dir])
    assert second.added == [] and second.updated == []
    assert sorted(second.skipped) == sorted(first.added)
    assert second.passage_ids == first.passage_ids
    assert (store._chunks.count(), store._sentences.count()) == (chunks_before, sentences_before)


def test_changed_file_replaces_its_chunks(store: PassageStore, corpus_dir: Path) -> None:
    store.ingest_paths([corpus_dir])
    pid = "gull-rock-light"
    assert len(chunk_ids(store, pid)) == 2
    light = next(p for p in make_passages() if p.passage_id == pid)
    changed = light.model_copy(
        update={"text": "Tomasz found a shiny zeppelin balloon stuck on the lighthouse rail."}
    )
    (corpus_dir / f"{pid}.md").write_text(md_file(changed), encoding="utf-8")

    report = store.ingest_paths([corpus_dir])
    assert report.updated == [pid]
    assert len(report.skipped) == 3
    assert chunk_ids(store, pid) == [f"{pid}#0"]  # the old text had two chunks: both gone
    assert store.record(pid).n_chunks == 1
    assert store.get(pid).text == changed.text
    spans = store.search("zeppelin balloon", k=3, passage_id=pid, mode="lexical")
    assert [s.chunk_id for s in spans] == [f"{pid}#0"]
    assert store.search("spiral stairs", k=3, passage_id=pid, mode="lexical") == []
    # No duplicate chunks anywhere: one entry per (passage, index).
    all_ids = store._chunks.get(include=[])["ids"]
    assert len(all_ids) == len(set(all_ids))


def test_metadata_change_counts_as_a_change(store: PassageStore, passages) -> None:
    store.ingest_passages(passages)
    regraded = passages[0].model_copy(update={"grade": 3})
    report = store.ingest_passages([regraded])
    assert report.updated == [regraded.passage_id]
    assert store.get(regraded.passage_id).grade == 3
    grade3 = {s.passage_id for s in store.search("fox", k=10, grade_min=3, grade_max=3)}
    assert regraded.passage_id in grade3
    assert store.search("fox", k=10, grade_max=2) == []  # it was the only grade-2 passage


def test_store_persists_across_instances(settings: Settings, corpus_dir: Path, passages) -> None:
    PassageStore(settings).ingest_paths([corpus_dir])
    reopened = PassageStore(settings)
    for passage in passages:
        stored = reopened.get(passage.passage_id)
        assert stored.model_dump(exclude={"source"}) == passage.model_dump(exclude={"source"})
    assert reopened.search("honey", k=1)[0].passage_id == "honey-bees"
    assert sorted(reopened.ingest_paths([corpus_dir]).skipped) == sorted(
        p.passage_id for p in passages
    )


def test_unchanged_corpus_is_skipped_without_loading_the_model(
    settings: Settings, corpus_dir: Path, embedding_model
) -> None:
    """A fresh process checks hashes only: no torch, no embedding model."""
    corpus_settings = settings.model_copy(update={"corpus_path": corpus_dir})
    assert len(PassageStore(corpus_settings).ensure_corpus().added) == 4
    script = (
        "import json, sys\n"
        "from readloom.settings import Settings\n"
        "from readloom.retrieval.store import PassageStore\n"
        "from readloom.retrieval import embeddings\n"
        "report = PassageStore(Settings()).ensure_corpus()\n"
        "print(json.dumps({'skipped': len(report.skipped), 'added': len(report.added),\n"
        "  'model': embeddings.is_model_loaded(), 'torch': 'torch' in sys.modules}))\n"
    )
    env = {
        **os.environ,
        "READLOOM_HOME": str(settings.home),
        "READLOOM_CORPUS_PATH": str(corpus_dir),
        "HF_HUB_OFFLINE": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"skipped": 4, "added": 0, "model": False, "torch": False}


def test_ensure_corpus_without_a_folder(settings: Settings, tmp_path: Path) -> None:
    missing = settings.model_copy(update={"corpus_path": tmp_path / "nope"})
    assert PassageStore(missing).ensure_corpus().passage_ids == []


def test_duplicate_ids_in_one_batch_are_refused(store: PassageStore, passages) -> None:
    with pytest.raises(InputError, match="twice"):
        store.ingest_passages([passages[0], passages[0]])


# --- passage guard (prompt-injection hook) ----------------------------------------------


def _refuse_lighthouse(passage: Passage) -> None:
    if "lantern" in passage.text:
        raise GuardrailDenied("refused", code="injection")


def test_strict_guard_refusal_writes_nothing(settings: Settings, passages, embedding_model):
    store = PassageStore(settings, passage_guard=_refuse_lighthouse)
    with pytest.raises(GuardrailDenied, match="gull-rock-light"):
        store.ingest_passages(passages)
    assert store.count() == 0 and store._chunks.count() == 0


def test_lenient_guard_refusal_is_reported(settings: Settings, passages, embedding_model):
    store = PassageStore(settings, passage_guard=_refuse_lighthouse)
    report = store.ingest_passages(passages, strict=False)
    assert report.refused == {"gull-rock-light": "injection"}
    assert "gull-rock-light" not in report.passage_ids
    assert len(report.added) == 3
    with pytest.raises(NotFound):
        store.get("gull-rock-light")


def test_a_failing_guard_refuses(settings: Settings, passages, embedding_model) -> None:
    def broken(passage: Passage) -> None:
        raise RuntimeError("model not loaded")

    store = PassageStore(settings, passage_guard=broken)
    report = store.ingest_passages(passages[:1], strict=False)
    assert report.refused == {passages[0].passage_id: "guard_error"}
    assert store.count() == 0


# --- reading ----------------------------------------------------------------------------


def test_get_list_delete(store: PassageStore, passages) -> None:
    store.ingest_passages(passages)
    assert [p.passage_id for p in store.list(grade=2)] == ["rosa-the-fox"]
    assert [p.passage_id for p in store.list(grade_min=3, grade_max=5)] == [
        "honey-bees",
        "how-volcanoes-work",
    ]
    assert {p.passage_id for p in store.list(genre="fiction")} == {
        "rosa-the-fox",
        "gull-rock-light",
    }
    records = store.list_records()
    assert [r.passage.grade for r in records] == sorted(r.passage.grade for r in records)
    assert all(1.0 <= (r.grade_level or 0) <= 12.0 and r.n_chunks >= 1 for r in records)

    assert store.delete("honey-bees") is True
    assert store.delete("honey-bees") is False
    assert chunk_ids(store, "honey-bees") == []
    assert store._sentences.get(where={"passage_id": "honey-bees"}, include=[])["ids"] == []
    with pytest.raises(NotFound):
        store.get("honey-bees")
    assert all(s.passage_id != "honey-bees" for s in store.search("honey bees dance", k=10))


# --- search -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Where did Rosa go to drink when the stream froze?", "rosa-the-fox"),
        ("What do we call melted rock under the ground?", "how-volcanoes-work"),
        ("How do bees tell each other where the flowers are?", "honey-bees"),
        ("Why did Tomasz swing a lantern at the window all night?", "gull-rock-light"),
    ],
)
def test_hybrid_search_finds_the_right_passage(loaded: PassageStore, query, expected) -> None:
    spans = loaded.search(query, k=3)
    assert spans[0].passage_id == expected
    assert spans == sorted(spans, key=lambda s: -s.score)


def test_dense_search_matches_meaning_without_shared_words(loaded: PassageStore) -> None:
    query = "people whose job is researching eruptions"
    assert loaded.search(query, k=1, mode="dense")[0].passage_id == "how-volcanoes-work"


def test_lexical_search_matches_rare_names(loaded: PassageStore) -> None:
    spans = loaded.search("Tomasz", k=5, mode="lexical")
    assert spans and {s.passage_id for s in spans} == {"gull-rock-light"}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_spans_point_into_their_passage(loaded: PassageStore, mode: str) -> None:
    spans = loaded.search("water in winter and the warm spring", k=6, mode=mode)
    assert spans
    for span in spans:
        passage = loaded.get(span.passage_id)
        assert passage.text[span.start : span.end] == span.text
        assert span.title == passage.title
        assert span.grade_level is not None and 1.0 <= span.grade_level <= 12.0


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_filters(loaded: PassageStore, mode: str) -> None:
    query = "water rock bees light fox"
    one = loaded.search(query, k=10, passage_id="honey-bees", mode=mode)
    assert one and {s.passage_id for s in one} == {"honey-bees"}
    band = loaded.search(query, k=10, grade_min=3, grade_max=5, mode=mode)
    assert band and {s.passage_id for s in band} <= {"honey-bees", "how-volcanoes-work"}
    fiction = loaded.search(query, k=10, genre="fiction", mode=mode)
    assert fiction and {s.passage_id for s in fiction} <= {"rosa-the-fox", "gull-rock-light"}
    both = loaded.search(query, k=10, genre="fiction", grade_max=3, mode=mode)
    assert both and {s.passage_id for s in both} == {"rosa-the-fox"}
    assert loaded.search(query, k=10, grade_min=11, mode=mode) == []
    assert loaded.search(query, k=10, passage_id="no-such-passage", mode=mode) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": "  "}, "empty"),
        ({"query": "fox", "k": 0}, "k must"),
        ({"query": "fox", "grade_min": 6, "grade_max": 2}, "grade_min"),
        ({"query": "fox", "mode": "fuzzy"}, "mode"),
    ],
)
def test_search_rejects_bad_arguments(loaded: PassageStore, kwargs, message) -> None:
    with pytest.raises(InputError, match=message):
        loaded.search(**kwargs)


def test_search_on_an_empty_store(store: PassageStore) -> None:
    for mode in ("hybrid", "dense", "lexical"):
        assert store.search("anything at all", mode=mode) == []


def test_one_span_per_passage_across_passages(loaded: PassageStore) -> None:
    query = "Tomasz lighthouse lantern storm fishermen reef"
    across = loaded.search(query, k=4)
    ids = [s.passage_id for s in across]
    assert ids[0] == "gull-rock-light" and len(ids) == len(set(ids))
    two = loaded.search(query, k=4, per_passage=2)
    assert [s.passage_id for s in two[:2]] == ["gull-rock-light", "gull-rock-light"]
    within = loaded.search(query, k=4, passage_id="gull-rock-light")
    assert len(within) == 2  # both chunks of the passage
    with pytest.raises(InputError, match="per_passage"):
        loaded.search(query, per_passage=0)


def test_in_memory_passage_ranking_matches_the_index(loaded: PassageStore) -> None:
    """Within one passage the store ranks in memory; the scores are the index's own."""
    from readloom.retrieval.search import dense_ranking

    where = {"passage_id": "gull-rock-light"}
    for query in ("why did the keeper light the lamp", "boats in a storm", "xylophone"):
        mine = loaded._dense(query, where, 40, "gull-rock-light")
        index = dense_ranking(loaded._chunks, loaded._sentences, query, where, 40)
        assert [c for c, _ in mine] == [c for c, _ in index]
        assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(mine, index, strict=True))


def test_dense_query_ranks_by_meaning_of_another_text(loaded: PassageStore) -> None:
    """``dense_query`` is embedded instead of the query: the words still match lexically."""
    dense = loaded.search("zzz", k=1, mode="dense", dense_query="bees make honey in the hive")
    assert dense[0].passage_id == "honey-bees"


def test_a_reingested_passage_is_read_fresh(store: PassageStore, passages) -> None:
    """Records are held for a while, but a write in this process drops them at once."""
    store.ingest_passages(passages)
    assert store.get("honey-bees").title == "Honey Bees"
    renamed = passages[2].model_copy(update={"title": "Bees at Work"})
    store.ingest_passages([renamed])
    assert store.get("honey-bees").title == "Bees at Work"
    within = store.search("honey hive", k=4, passage_id="honey-bees")
    assert within and {s.passage_id for s in within} == {"honey-bees"}
    store.delete("honey-bees")
    with pytest.raises(NotFound):
        store.get("honey-bees")


def test_searches_go_on_while_a_passage_is_being_ingested(
    settings: Settings, passages, embedding_model
) -> None:
    """Ingest holds the store's lock only to write: a search during the slow part (here
    a guard that waits) answers at once, and sees the new passage once it is written."""
    import threading

    entered, release = threading.Event(), threading.Event()

    def slow_guard(passage: Passage) -> None:
        if passage.passage_id == "gull-rock-light":
            entered.set()
            release.wait(timeout=30)

    store = PassageStore(settings, passage_guard=slow_guard)
    store.ingest_passages(passages[:3])
    worker = threading.Thread(target=store.ingest_passages, args=([passages[3]],))
    worker.start()
    try:
        assert entered.wait(timeout=30)
        hits: list = []
        searcher = threading.Thread(target=lambda: hits.extend(store.search("frozen stream")))
        searcher.start()
        searcher.join(timeout=15)  # the ingest is still inside its guard
        assert not searcher.is_alive(), "the search waited for the ingest"
        assert hits and hits[0].passage_id == "rosa-the-fox"
    finally:
        release.set()
        worker.join(timeout=60)
    assert store.search("lighthouse lamp storm", k=1)[0].passage_id == "gull-rock-light"


def test_searches_go_on_while_chroma_is_being_written(
    settings: Settings, passages, embedding_model, monkeypatch
) -> None:
    """The write itself (Chroma's deletes and adds, the catalogue) may be slow too: a turn's
    search meanwhile reads the chunks as they were, without waiting, and the new passage is
    searchable once the ingest has returned (the writer rebuilt the cache)."""
    import threading

    store = PassageStore(settings)
    store.ingest_passages(passages[:3])
    assert store.search("frozen stream")[0].passage_id == "rosa-the-fox"  # cache built
    entered, release = threading.Event(), threading.Event()
    replace = store._replace

    def slow_replace(item, ready) -> None:
        replace(item, ready)
        entered.set()
        release.wait(timeout=30)

    monkeypatch.setattr(store, "_replace", slow_replace)
    worker = threading.Thread(target=store.ingest_passages, args=([passages[3]],))
    worker.start()
    try:
        assert entered.wait(timeout=60)
        hits: list = []
        searcher = threading.Thread(
            target=lambda: (
                hits.extend(store.search("honey hive", passage_id="honey-bees"))
                or hits.extend(store.search("frozen stream"))
            )
        )
        searcher.start()
        searcher.join(timeout=15)  # the ingest is still inside its write
        assert not searcher.is_alive(), "the search waited for the write"
        assert {h.passage_id for h in hits} >= {"honey-bees", "rosa-the-fox"}
    finally:
        release.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert store.search("lighthouse lamp storm", k=1)[0].passage_id == "gull-rock-light"


def test_the_in_memory_dense_index_ranks_like_chromas(loaded: PassageStore) -> None:
    """Across passages the dense ranking is computed in memory; it must agree with the
    Chroma index it replaces (exact here: the store is small), filters included."""
    from readloom.retrieval.search import dense_ranking

    for query, where in [
        ("why did the fox go to the mill", None),
        ("hot liquid rock under the ground", {"grade": {"$gte": 4}}),
    ]:
        mine = loaded._dense(query, where, 6, None)
        chroma = dense_ranking(loaded._chunks, loaded._sentences, query, where, 6)
        assert [cid for cid, _ in mine][:3] == [cid for cid, _ in chroma][:3]
        theirs = dict(chroma)
        # Exact: a chunk's best sentence is never missed (Chroma fetches only the top
        # few sentences), so no score is below Chroma's, and the shared top ones agree.
        assert all(score >= theirs.get(cid, -1.0) - 1e-5 for cid, score in mine)
        assert all(abs(score - theirs[cid]) < 1e-5 for cid, score in mine[:3])
    assert loaded._dense_held is not None  # built once, reused
