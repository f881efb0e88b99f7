"""The LangGraph checkpointer on readloom's database: persists across reopen, and a
student's threads can be deleted (FERPA)."""

from __future__ import annotations

import asyncio
import operator
import sqlite3
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph

from readloom.settings import Settings
from readloom.storage.checkpoints import delete_threads, open_checkpointer


class _State(TypedDict):
    turns: Annotated[list[str], operator.add]


def _graph() -> StateGraph:
    g = StateGraph(_State)
    g.add_node("echo", lambda s: {"turns": [f"reply-{len(s['turns'])}"]})
    g.add_edge(START, "echo")
    g.add_edge("echo", END)
    return g


def _cfg(thread: str) -> dict:
    return {"configurable": {"thread_id": thread}}


def test_checkpoints_survive_reopen_and_can_be_deleted(settings: Settings) -> None:
    async def first() -> None:
        async with open_checkpointer(settings) as saver:
            app = _graph().compile(checkpointer=saver)
            await app.ainvoke({"turns": ["hello"]}, _cfg("thread-a"))
            await app.ainvoke({"turns": ["again"]}, _cfg("thread-a"))
            await app.ainvoke({"turns": ["other"]}, _cfg("thread-b"))

    async def reopen() -> tuple[list[str], list[str], list[str]]:
        async with open_checkpointer(settings) as saver:
            app = _graph().compile(checkpointer=saver)
            a = (await app.aget_state(_cfg("thread-a"))).values["turns"]
            await delete_threads(saver, ["thread-a"])
            gone = (await app.aget_state(_cfg("thread-a"))).values.get("turns", [])
            b = (await app.aget_state(_cfg("thread-b"))).values["turns"]
            return a, gone, b

    asyncio.run(first())
    a, gone, b = asyncio.run(reopen())
    assert a == ["hello", "reply-1", "again", "reply-3"]
    assert gone == []
    assert b == ["other", "reply-1"]


def test_sqlite_checkpoints_use_wal_in_the_app_database(tmp_path) -> None:
    settings = Settings(home=tmp_path)

    async def run() -> tuple[str, int]:
        async with open_checkpointer(settings) as saver:
            conn = saver.conn  # type: ignore[attr-defined]
            mode = (await (await conn.execute("PRAGMA journal_mode")).fetchone())[0]
            sync = (await (await conn.execute("PRAGMA synchronous")).fetchone())[0]
            return mode, sync

    mode, sync = asyncio.run(run())
    assert (mode, sync) == ("wal", 1)  # NORMAL: durable across kill -9 in WAL mode
    db = sqlite3.connect(tmp_path / "readloom.sqlite")  # the one database holds them
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()
    assert "checkpoints" in tables
    assert not settings.checkpoint_path.exists()
