from __future__ import annotations

import pytest
from pydantic import ValidationError

from readloom.retrieval.models import Span
from readloom.retrieval.store import PassageStore
from readloom.settings import Settings
from readloom.tools.retriever import make_retriever_tool, search_passages

from .conftest import make_passages


@pytest.fixture(scope="module")
def tool_store(tmp_path_factory, embedding_model) -> PassageStore:
    store = PassageStore(Settings(home=tmp_path_factory.mktemp("tool")))
    store.ingest_passages(make_passages())
    return store


def test_schema(tool_store: PassageStore) -> None:
    tool = make_retriever_tool(tool_store)
    assert tool.name == "search_passages"
    schema = tool.args_schema.model_json_schema()
    assert schema["required"] == ["query"]
    assert {"query", "passage_id", "k", "grade_min", "grade_max", "genre"} <= set(
        schema["properties"]
    )
    assert schema["properties"]["k"]["maximum"] == 10
    assert "offsets" in tool.description


def test_tool_returns_spans_as_dicts(tool_store: PassageStore) -> None:
    tool = make_retriever_tool(tool_store)
    out = tool.invoke(
        {"query": "Why did the lamp go dark?", "passage_id": "gull-rock-light", "k": 2}
    )
    assert isinstance(out, list) and 1 <= len(out) <= 2
    text = tool_store.get("gull-rock-light").text
    for item in out:
        assert set(item) == set(Span.model_fields)
        assert item["passage_id"] == "gull-rock-light"
        assert text[item["start"] : item["end"]] == item["text"]


def test_tool_and_function_agree(tool_store: PassageStore) -> None:
    tool = make_retriever_tool(tool_store)
    args = {"query": "honey and the waggle dance", "k": 3, "genre": "informational"}
    assert tool.invoke(args) == search_passages(tool_store, **args)
    assert tool.invoke(args)[0]["passage_id"] == "honey-bees"


@pytest.mark.parametrize(
    "bad",
    [
        {"query": ""},
        {"query": "fox", "k": 0},
        {"query": "fox", "k": 11},
        {"query": "fox", "genre": "comic"},
    ],
)
def test_invalid_arguments_are_rejected(tool_store: PassageStore, bad: dict) -> None:
    with pytest.raises(ValidationError):
        make_retriever_tool(tool_store).invoke(bad)
