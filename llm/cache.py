"""A cache for identical, already-redacted, cacheable requests (teacher question sets).

The key hashes everything that shapes the answer: the provider chain (names and models),
tenant, task, prompt id@version, messages, variables, output schema and sampling
options. Tenants never share entries. Only redacted text reaches this cache (the gate
redacts first), and it lives in SQLite under ``READLOOM_HOME`` with a TTL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from readloom.llm.base import LLMRequest, LLMResult, Usage
from readloom.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,
    created REAL NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    parsed TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    finish_reason TEXT
);
"""


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, set | frozenset):
        return sorted(map(str, obj))
    return str(obj)


def cache_key(req: LLMRequest, chain: Sequence[tuple[str, str]]) -> str:
    payload = {
        "chain": [list(c) for c in chain],
        "tenant": req.tenant,
        "task": req.task,
        "prompt": req.prompt_id,
        "messages": [[m.role, m.content] for m in req.messages],
        "variables": req.variables,
        "schema": req.output_schema.model_json_schema() if req.output_schema else None,
        "max_tokens": req.max_tokens,
        "temperature": req.temperature,
    }
    blob = json.dumps(payload, sort_keys=True, default=_jsonable, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path, *, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> ResponseCache:
        return cls(settings.ensure_home() / "llm_cache.sqlite", ttl_s=settings.cache_ttl_s)

    def get(self, key: str, schema: type[BaseModel] | None = None) -> LLMResult | None:
        with self._lock:
            row = self._db.execute(
                "SELECT created, provider, model, text, parsed, input_tokens, output_tokens,"
                " finish_reason FROM llm_cache WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        created, provider, model, text, parsed_json, tin, tout, finish = row
        if self._clock() - created > self.ttl_s:
            self.delete(key)
            return None
        parsed = None
        if schema is not None:
            if parsed_json is None:
                return None
            try:
                parsed = schema.model_validate_json(parsed_json)
            except ValueError:  # the schema changed since: a miss, not an error
                self.delete(key)
                return None
        return LLMResult(
            text=text,
            parsed=parsed,
            provider=provider,
            model=model,
            usage=Usage(input_tokens=tin, output_tokens=tout),
            finish_reason=finish,
        )

    def put(self, key: str, result: LLMResult) -> None:
        parsed = result.parsed.model_dump_json() if result.parsed is not None else None
        now = self._clock()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO llm_cache (key, created, provider, model, text, parsed,"
                " input_tokens, output_tokens, finish_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    now,
                    result.provider,
                    result.model,
                    result.text,
                    parsed,
                    result.usage.input_tokens,
                    result.usage.output_tokens,
                    result.finish_reason,
                ),
            )
            self._db.execute("DELETE FROM llm_cache WHERE created < ?", (now - self.ttl_s,))

    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM llm_cache WHERE key = ?", (key,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
