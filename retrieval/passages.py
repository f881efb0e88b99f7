"""Reading passages from files: ``.md`` with YAML front matter, ``.txt``, ``.jsonl``.

Text is normalised (Unicode NFC, ``\\n`` line ends, outer whitespace trimmed) so
that the content hash, and the chunk offsets into ``Passage.text``, do not depend
on the machine that wrote the file. Errors name the file and line, never its text.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from readloom.errors import InputError
from readloom.mlops.data_quality import DEFAULT_MAX_BAD_SHARE, QualityReport, RowChecker
from readloom.retrieval.models import Genre, Passage

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".jsonl"})
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_HEADING = re.compile(r"\A#{1,6}[ \t]+(.+?)[ \t#]*\n")
_MAX_TITLE = 100
_PASSAGE_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


class _PassageIn(BaseModel):
    """What a file may say about a passage; missing fields are filled by the loader."""

    model_config = ConfigDict(extra="ignore")

    passage_id: str | None = None
    title: str | None = None
    text: str = ""
    grade: int | None = Field(default=None, ge=1, le=12)
    genre: Genre | None = None
    topics: list[str] = Field(default_factory=list)
    characters: list[str] = Field(default_factory=list)
    source: str | None = None


def slugify(name: str) -> str:
    """``"The Tin of Letters!.md"`` -> ``"the-tin-of-letters"`` (ASCII, lower case)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "passage"


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.lstrip("\ufeff").strip()


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().title() or "Untitled"


def _split_title_line(text: str) -> tuple[str | None, str]:
    """A short first line without end punctuation, then a blank line, is a title."""
    first, _, rest = text.partition("\n")
    candidate = first.strip().lstrip("#").strip()
    next_line, newline, body = rest.partition("\n")
    if (
        newline
        and not next_line.strip()
        and body.strip()
        and 0 < len(candidate) <= _MAX_TITLE
        and candidate[-1] not in ".!?,;:\"'”’"
    ):
        return candidate, body
    return None, text


def _build(raw: _PassageIn, *, default_id: str, default_title: str, where: str,
           source: str | None) -> Passage:  # fmt: skip
    text = normalize_text(raw.text)
    if not text:
        raise InputError(f"{where}: the passage has no text")
    grade = raw.grade
    if grade is None:
        from readloom.retrieval.readability import estimate_grade

        grade = max(1, min(12, round(estimate_grade(text))))
    fields: dict[str, Any] = {
        "passage_id": _checked_id(raw.passage_id, where) if raw.passage_id else default_id,
        "title": (raw.title or default_title).strip() or default_title,
        "text": text,
        "grade": grade,
        "genre": raw.genre or "other",
        "topics": [t.strip() for t in raw.topics if t and t.strip()],
        "characters": [c.strip() for c in raw.characters if c and c.strip()],
    }
    if raw.source or source:
        fields["source"] = raw.source or source
    try:
        return Passage(**fields)
    except ValidationError as exc:
        raise InputError(f"{where}: invalid passage ({_fields(exc)})") from None


def _checked_id(passage_id: str, where: str) -> str:
    if not _PASSAGE_ID.match(passage_id):
        raise InputError(f"{where}: passage_id must be 1-128 letters, digits, '.', '_' or '-'")
    return passage_id


def _fields(exc: ValidationError) -> str:
    return ", ".join(".".join(str(p) for p in e["loc"]) or "passage" for e in exc.errors())


def _parse(model: type[_PassageIn], data: object, where: str) -> _PassageIn:
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping of passage fields")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{where}: invalid passage fields ({_fields(exc)})") from None


def load_markdown(path: Path, *, source: str | None = None) -> Passage:
    text = normalize_text(path.read_text(encoding="utf-8"))
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError:
            raise InputError(f"{path.name}: the YAML front matter does not parse") from None
        text = text[match.end() :]
    raw = _parse(_PassageIn, {**meta, "text": text}, path.name)
    if raw.title is None:
        body = normalize_text(raw.text)
        heading = _MD_HEADING.match(body + "\n")
        if heading:
            raw.title, raw.text = heading.group(1).strip(), body[heading.end() :]
    return _build(raw, default_id=slugify(path.stem), default_title=_title_from_name(path),
                  where=path.name, source=source)  # fmt: skip


def load_text(path: Path, *, source: str | None = None) -> Passage:
    title, body = _split_title_line(normalize_text(path.read_text(encoding="utf-8")))
    raw = _PassageIn(title=title, text=body)
    return _build(raw, default_id=slugify(path.stem), default_title=_title_from_name(path),
                  where=path.name, source=source)  # fmt: skip


def load_jsonl(
    path: Path,
    *,
    source: str | None = None,
    max_bad_share: float = DEFAULT_MAX_BAD_SHARE,
    reports: list[QualityReport] | None = None,
) -> list[Passage]:
    """One passage per line. Bad lines are reported (line and reason) and left out; the
    file fails above ``max_bad_share`` bad lines. ``reports`` collects the check's report."""
    passages = []
    checker = RowChecker(path.name, "passage", max_bad_share=max_bad_share)
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                checker.bad(lineno, "not valid JSON")
                continue
            try:
                raw = _parse(_PassageIn, data, where)
                passage = _build(
                    raw,
                    default_id=f"{slugify(path.stem)}-{lineno}",
                    default_title=f"{_title_from_name(path)} {lineno}",
                    where=where,
                    source=source,
                )  # fmt: skip
            except InputError as exc:
                checker.bad(lineno, exc.message.removeprefix(f"{where}: "))
                continue
            checker.good()
            passages.append(passage)
    report = checker.finish()
    if reports is not None:
        reports.append(report)
    return passages


def load_file(
    path: Path, *, source: str | None = None, reports: list[QualityReport] | None = None
) -> list[Passage]:
    """The passages of one file (one for .md/.txt, one per line for .jsonl)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path.name}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{path.name}: unsupported file type (use .md, .txt or .jsonl)")
    try:
        if suffix == ".jsonl":
            return load_jsonl(path, source=source, reports=reports)
        if suffix == ".txt":
            return [load_text(path, source=source)]
        return [load_markdown(path, source=source)]
    except UnicodeDecodeError:
        raise InputError(f"{path.name}: not UTF-8 text") from None


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files given, and supported files under folders given (sorted, README skipped)."""
    for path in map(Path, paths):
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if (
                    child.is_file()
                    and child.suffix.lower() in SUPPORTED_SUFFIXES
                    and not child.name.startswith(".")
                    and not child.stem.lower().startswith("readme")
                ):
                    yield child
        elif path.exists():
            yield path
        else:
            raise InputError(f"{path.name}: no such file or folder")


def load_paths(
    paths: Iterable[Path],
    *,
    source: str | None = None,
    reports: list[QualityReport] | None = None,
) -> list[Passage]:
    """All passages under ``paths``; two passages with one id are an error."""
    passages: list[Passage] = []
    origin: dict[str, str] = {}
    for path in iter_files(paths):
        for passage in load_file(path, source=source, reports=reports):
            if passage.passage_id in origin:
                raise InputError(
                    f"passage id {passage.passage_id!r} appears in both "
                    f"{origin[passage.passage_id]} and {path.name}"
                )
            origin[passage.passage_id] = path.name
            passages.append(passage)
    return passages
