"""The passage retriever as a LangChain tool.

Returns spans with passage id and character offsets so the evaluator can check
that a reply is grounded in the text: ``passage.text[start:end] == span["text"]``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from readloom.retrieval.models import Genre
from readloom.retrieval.store import PassageStore

MAX_K = 10


class SearchPassagesArgs(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="What to look for")
    passage_id: str | None = Field(
        default=None, description="Search only this passage (the one the student is reading)"
    )
    k: int = Field(default=4, ge=1, le=MAX_K, description="How many spans to return")
    grade_min: int | None = Field(default=None, ge=1, le=12, description="Lowest passage grade")
    grade_max: int | None = Field(default=None, ge=1, le=12, description="Highest passage grade")
    genre: Genre | None = Field(default=None, description="Only passages of this genre")


def search_passages(
    store: PassageStore,
    query: str,
    passage_id: str | None = None,
    k: int = 4,
    grade_min: int | None = None,
    grade_max: int | None = None,
    genre: Genre | None = None,
) -> list[dict[str, Any]]:
    """Hybrid (dense + BM25) search; each span as a dict, best first."""
    spans = store.search(
        query,
        k=min(k, MAX_K),
        passage_id=passage_id,
        grade_min=grade_min,
        grade_max=grade_max,
        genre=genre,
    )
    return [span.model_dump() for span in spans]


def make_retriever_tool(store: PassageStore) -> BaseTool:
    """``search_passages`` bound to ``store``, with a typed schema for the agents."""

    def _search(
        query: str,
        passage_id: str | None = None,
        k: int = 4,
        grade_min: int | None = None,
        grade_max: int | None = None,
        genre: Genre | None = None,
    ) -> list[dict[str, Any]]:
        return search_passages(
            store,
            query,
            passage_id=passage_id,
            k=k,
            grade_min=grade_min,
            grade_max=grade_max,
            genre=genre,
        )

    return StructuredTool.from_function(
        _search,
        name="search_passages",
        description=(
            "Find the sentences of a reading passage that bear on a question. Returns spans "
            "(passage_id, chunk_id, text, start, end, score, title, grade_level) where "
            "start/end are character offsets into the passage text."
        ),
        args_schema=SearchPassagesArgs,
    )
