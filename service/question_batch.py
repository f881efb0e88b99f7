"""Questions for many passages in one process: files, passage ids and a JSONL of passages.

One ``Readloom`` app serves the whole batch, so the spaCy parser, the embedding model
and the dictionary load once. Results come back in input order; a passage that fails
(too short, refused) is reported in its place and the batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from readloom.errors import InputError, ReadloomError


class BatchPassage(BaseModel):
    """One line of a passages JSONL: the text (and title, grade), or a passage id."""

    model_config = ConfigDict(extra="ignore")

    text: str | None = None
    title: str | None = None
    grade: int | None = Field(None, ge=1, le=12)
    passage_id: str | None = None
    id: str | None = Field(None, description="the caller's own id, echoed back")


class BatchItem(BaseModel):
    source: str  # file path, "passage-id", or "file.jsonl:line"
    request: BatchPassage | None = None
    file: Path | None = None


class BatchResult(BaseModel):
    source: str
    id: str | None = None
    passage_id: str | None = None
    title: str | None = None
    grade: int | None = None
    questions: list[dict[str, Any]] = Field(default_factory=list)
    provenance: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    note: str | None = None


def read_jsonl(path: Path) -> list[BatchItem]:
    """Every non-blank line a passage; a bad line is an error naming the line, read first
    so a batch never stops halfway on a typo."""
    items: list[BatchItem] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            req = BatchPassage.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            kind = "not JSON" if isinstance(exc, json.JSONDecodeError) else "bad fields"
            raise InputError(f"{path.name} line {n}: {kind} (want text or passage_id)") from None
        if (req.text is None) == (req.passage_id is None):
            raise InputError(f"{path.name} line {n}: give exactly one of text or passage_id")
        items.append(BatchItem(source=f"{path.name}:{n}", request=req))
    return items


MIN_WORDS = 20  # what ``Readloom.text_passage`` accepts


def too_short(text: str) -> bool:
    from readloom.llm.offline.questions import MIN_SENTENCES, sentence_count

    return len(text.split()) < MIN_WORDS or sentence_count(text) < MIN_SENTENCES


def no_questions_reason(text: str, count: int) -> str:
    """Why a passage produced nothing, in words a teacher can act on."""
    from readloom.llm.offline.questions import MIN_SENTENCES, sentence_count

    n = sentence_count(text)
    if n < MIN_SENTENCES or len(text.split()) < MIN_WORDS:
        return (
            f"no questions: the text is too short for {count} question(s) — it has {n} "
            f"sentence(s) and {len(text.split())} word(s), and questions need at least "
            f"{MIN_SENTENCES} sentences and {MIN_WORDS} words; give a paragraph or more"
        )
    return (
        f"no questions: nothing in the text's {n} sentences could be asked with an answer it "
        "supports; try a longer passage or other --types"
    )


async def run_batch(
    app: Any,
    items: list[BatchItem],
    *,
    count: int,
    grade: int | None,
    types: list[str] | None,
    choices: bool,
    resolve_file: Callable[[Any, Path], str],
    keep: bool = False,
    on_done: Callable[[], None] | None = None,
) -> AsyncIterator[BatchResult]:
    """Yield one result per item, in order."""
    for item in items:
        res = BatchResult(source=item.source)
        try:
            req = item.request or BatchPassage()
            res.id = req.id
            item_grade = req.grade or grade
            if item.file is not None and not keep:  # used once: read, not ingested
                from readloom.retrieval.passages import load_paths

                loaded = load_paths([item.file])
                if not loaded:
                    raise InputError(f"no passage in {item.file}")
                req = BatchPassage(text=loaded[0].text, title=loaded[0].title, id=req.id)
                item_grade = grade or loaded[0].grade
            if req.text is not None and too_short(req.text):
                res.title, res.grade = req.title, item_grade
                res.error = no_questions_reason(req.text, count)
                if on_done is not None:
                    on_done()
                yield res
                continue
            if item.file is not None and keep:
                pid = resolve_file(app, item.file)
                out = await app.generate_questions(
                    passage_id=pid, count=count, grade=item_grade, types=types, choices=choices
                )
            elif req.passage_id:
                out = await app.generate_questions(
                    passage_id=req.passage_id, count=count, grade=item_grade, types=types,
                    choices=choices,
                )  # fmt: skip
            else:
                out = await app.generate_questions(
                    text=req.text, title=req.title, count=count, grade=item_grade, types=types,
                    choices=choices, keep=keep,
                )  # fmt: skip
            if req.text is not None:  # an ad-hoc text is gone from the store once used
                passage = app.text_passage(req.text, title=req.title, grade=item_grade)
            else:
                passage = app.services.store.get(out.passage_id)
            res.passage_id, res.title = out.passage_id, passage.title
            res.grade = item_grade or passage.grade
            res.questions = [q.model_dump() for q in out.questions]
            res.provenance = out.provenance
            if not out.questions:
                res.error = no_questions_reason(passage.text, count)
            elif len(out.questions) < count:
                res.note = f"{len(out.questions)} of {count} questions: the text has no more"
        except ReadloomError as exc:
            res.error = exc.message
        if on_done is not None:
            on_done()
        yield res
