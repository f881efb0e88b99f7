"""``readloom grade``: score short written answers in bulk (teachers' constructed responses,
evals). Every line is validated before any is graded, so a bad file loses nothing and
says which line is wrong; output keeps the input order, one JSON line per input."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, ValidationError, model_validator

from readloom.errors import InputError, ReadloomError


class GradeRow(BaseModel):
    passage: str | None = None
    passage_id: str | None = None
    question: str
    answer: str
    evidence: str | None = None
    response: str

    @model_validator(mode="after")
    def _has_passage(self) -> GradeRow:
        if not (self.passage or self.passage_id):
            raise ValueError("give 'passage' (the text) or 'passage_id'")
        return self


def read_rows(path: Path) -> list[tuple[dict[str, Any], GradeRow]]:
    rows: list[tuple[dict[str, Any], GradeRow]] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict):
                    raise ValueError("each line must be a JSON object")
                rows.append((raw, GradeRow.model_validate(raw)))
            except ValidationError as exc:
                fields = sorted({".".join(map(str, e["loc"])) or e["msg"] for e in exc.errors()})
                raise InputError(
                    f"{path.name} line {n}: missing or invalid {', '.join(fields)} (each line "
                    "needs question, answer, response and passage or passage_id)"
                ) from None
            except ValueError as exc:
                raise InputError(f"{path.name} line {n}: not a JSON object ({exc})") from None
    if not rows:
        raise InputError(f"{path.name} has no lines to grade")
    return rows


async def grade_rows(
    rows: list[tuple[dict[str, Any], GradeRow]], *, settings: Any, progress: bool
) -> list[dict[str, Any]]:
    from tqdm import tqdm

    from readloom.agents.grader import GradeItem, Grader, keyed_providers

    needs_store = any(r.passage is None for _, r in rows)
    grader = Grader(settings=settings)
    services = None
    if needs_store or keyed_providers(settings):
        from readloom.service import build_services

        services = build_services(settings)
        grader = Grader(gate=services.gate, settings=settings, offline=grader.offline)
    texts: dict[str, str] = {}
    items: list[GradeItem] = []
    for _, r in rows:
        passage = r.passage
        if passage is None:
            if r.passage_id not in texts:
                texts[r.passage_id] = services.store.get(r.passage_id).text  # type: ignore[union-attr]
            passage = texts[r.passage_id]
        items.append(
            GradeItem(question=r.question, answer=r.answer, response=r.response,
                      evidence=r.evidence, passage=passage)
        )  # fmt: skip
    grader.offline.prepare([(i.response, i.answer, i.passage) for i in items])
    out: list[dict[str, Any]] = []
    bar = tqdm(total=len(items), unit="answer", desc="grade", disable=not progress, file=sys.stderr)
    for n, ((raw, _), item) in enumerate(zip(rows, items, strict=True)):
        g = await grader.grade(item, session_id=f"grade-{n}")
        out.append(
            raw | {"verdict": g.verdict, "reason": g.reason, "confidence": g.confidence}
            | ({"offline_verdict": g.offline_verdict, "disagreement": True}
               if g.disagreement else {})
        )  # fmt: skip
        bar.update(1)
    bar.close()
    return out


def register(main: click.Group) -> None:
    @main.command("grade")
    @click.option(
        "--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="JSONL: passage or passage_id, question, answer (the key), evidence?, response.",
    )  # fmt: skip
    @click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json")
    def grade(data: Path, fmt: str) -> None:
        """Grade short written answers: correct, partially_correct, incorrect, not_an_answer."""
        from readloom.settings import get_settings

        try:
            rows = read_rows(data)
            results = asyncio.run(grade_rows(rows, settings=get_settings(), progress=True))
        except ReadloomError as exc:
            raise click.ClickException(exc.message) from None
        for r in results:
            if fmt == "json":
                click.echo(json.dumps(r, ensure_ascii=False))
            else:
                click.echo(f"{r['verdict']:18} {r['confidence']:.2f}  {r['response'][:60]}")
