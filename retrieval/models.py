"""Typed records the retrieval layer hands to tools, agents and the evaluator."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Genre = Literal["fiction", "informational", "poetry", "drama", "other"]


class Passage(BaseModel):
    passage_id: str
    title: str
    text: str
    grade: int = Field(ge=1, le=12, description="Target grade of the passage")
    genre: Genre = "fiction"
    topics: list[str] = Field(default_factory=list)
    characters: list[str] = Field(
        default_factory=list, description="Names in the story: not personal data"
    )
    source: str = "readloom"


class Span(BaseModel):
    """A retrieved chunk with character offsets into its passage, for grounding checks."""

    passage_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    score: float
    title: str = ""
    grade_level: float | None = None
