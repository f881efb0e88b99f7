"""The passage catalogue: one row per stored passage (no text), kept by ingest.

What ``readloom passages`` and an early passage-id check read, so listing the library
or rejecting an unknown id never starts Chroma or an embedding model. The passage
records in the vector store stay the source of truth; this is their index card.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from readloom.storage.models import Base, utcnow


class CatalogueEntry(Base):
    __tablename__ = "passage_catalogue"
    passage_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    grade: Mapped[int] = mapped_column(Integer, index=True)
    genre: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(200))
    topics: Mapped[list[Any]] = mapped_column(default=list)
    characters: Mapped[list[Any]] = mapped_column(default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    # the readability model's estimate of the whole text, written at ingest (monitored for
    # drift); None for rows catalogued before it was kept
    reading_level: Mapped[float | None] = mapped_column(Float, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
