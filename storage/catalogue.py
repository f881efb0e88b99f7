"""Reading and writing the passage catalogue (``storage.models_catalogue``).

The read side is for commands that must start in well under a second (``readloom
passages``, an unknown ``--passage-id``): on SQLite it reads with the stdlib driver
(read-only), elsewhere with SQLAlchemy Core only (no ORM, no async engine, no models),
and it never creates a database. Writes come from the passage
store at ingest, through the same engine as every other table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from readloom.settings import Settings

TABLE = "passage_catalogue"


@dataclass(frozen=True)
class Entry:
    passage_id: str
    title: str
    grade: int
    genre: str
    source: str
    content_hash: str = ""
    topics: list[str] = field(default_factory=list)
    characters: list[str] = field(default_factory=list)
    reading_level: float | None = None  # the readability model's estimate (monitored)


def _url(settings: Settings) -> Any:
    from sqlalchemy.engine import make_url

    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url.set(drivername="sqlite")


def read_entries(settings: Settings) -> list[Entry] | None:
    """Every catalogued passage, or None when there is no catalogue to read (no database
    yet, not migrated, or empty: nothing has been ingested through it)."""
    raw = settings.sqlalchemy_url
    query = (
        "SELECT passage_id, title, grade, genre, source, content_hash, topics, characters"
        f" FROM {TABLE}"
    )
    if raw.startswith("sqlite:"):  # checked before SQLAlchemy is even imported
        path = raw.partition(":///")[2].partition("?")[0]
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
        rows = _sqlite_rows(path, query)
    else:
        rows = _sqlalchemy_rows(settings, query)
    if rows is None:
        return None
    return [Entry(*row[:6], _listed(row[6]), _listed(row[7])) for row in rows] or None


def _sqlite_rows(path: str, query: str) -> list[Any] | None:
    """The stdlib driver, read-only: importing SQLAlchemy alone costs ~0.3-0.6 s, most of
    what ``readloom passages`` would take."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        return conn.execute(query).fetchall()
    except sqlite3.Error:
        return None  # the table is not there yet
    finally:
        conn.close()


def _sqlalchemy_rows(settings: Settings, query: str) -> list[Any] | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(_url(settings))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query)).all())
    except SQLAlchemyError:
        return None  # the table is not there yet
    finally:
        engine.dispose()


def _listed(value: Any) -> list[str]:
    """A JSON column read through plain SQL: text on SQLite, decoded on Postgres."""
    if isinstance(value, str):
        value = json.loads(value or "[]")
    return [str(v) for v in value or []]


class CatalogueWriter:
    """Keeps the catalogue in step with the store; used inside the store's write lock."""

    def __init__(self, settings: Settings) -> None:
        from readloom.storage.db import sync_engine

        self._engine = sync_engine(settings)

    def upsert(self, entries: Iterable[Entry]) -> None:
        from sqlalchemy.orm import Session

        from readloom.storage.models import utcnow
        from readloom.storage.models_catalogue import CatalogueEntry

        with Session(self._engine) as s, s.begin():  # updated_at: when it was (re)ingested
            for e in entries:
                s.merge(CatalogueEntry(**asdict(e), updated_at=utcnow()))

    def delete(self, passage_id: str) -> None:
        from sqlalchemy import delete
        from sqlalchemy.orm import Session

        from readloom.storage.models_catalogue import CatalogueEntry

        with Session(self._engine) as s, s.begin():
            s.execute(delete(CatalogueEntry).where(CatalogueEntry.passage_id == passage_id))

    def replace_all(self, entries: Iterable[Entry]) -> None:
        from sqlalchemy import delete
        from sqlalchemy.orm import Session

        from readloom.storage.models_catalogue import CatalogueEntry

        with Session(self._engine) as s, s.begin():
            s.execute(delete(CatalogueEntry))
            s.add_all(CatalogueEntry(**asdict(e)) for e in entries)

    def count(self) -> int:
        from sqlalchemy import func, select
        from sqlalchemy.orm import Session

        from readloom.storage.models_catalogue import CatalogueEntry

        with Session(self._engine) as s:
            return int(s.scalar(select(func.count()).select_from(CatalogueEntry)) or 0)

    def close(self) -> None:
        self._engine.dispose()
