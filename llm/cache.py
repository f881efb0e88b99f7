"""A cache for identical, already-redacted, cacheable requests (teacher question sets).

The key hashes everything that shapes the answer: the provider chain (names and models),
tenant, task, prompt id@version, messages, variables, output schema and sampling
options. Tenants never share entries. Only redacted text reaches this cache (the gate
redacts first); it is the ``llm_cache`` table of the one database (shared by every
worker), with a TTL.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from readloom.llm.base import LLMRequest, LLMResult, Usage
from readloom.settings import Settings
from readloom.storage.models_stores import LlmCacheEntry
from readloom.storage.stores import StoreDB, store_db

_T = LlmCacheEntry.__table__


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
    def __init__(
        self,
        db: StoreDB | Settings | Path,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db if isinstance(db, StoreDB) else store_db(db)
        self.path = self._db.path
        self.ttl_s = ttl_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> ResponseCache:
        return cls(settings, ttl_s=settings.cache_ttl_s)

    def get(self, key: str, schema: type[BaseModel] | None = None) -> LLMResult | None:
        with self._db.read() as conn:
            row = conn.execute(select(_T).where(_T.c.key == key)).first()
        if row is None:
            return None
        if self._clock() - row.created > self.ttl_s:
            self.delete(key)
            return None
        parsed = None
        if schema is not None:
            if row.parsed is None:
                return None
            try:
                parsed = schema.model_validate_json(row.parsed)
            except ValueError:  # the schema changed since: a miss, not an error
                self.delete(key)
                return None
        return LLMResult(
            text=row.text,
            parsed=parsed,
            provider=row.provider,
            model=row.model,
            usage=Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens),
            finish_reason=row.finish_reason,
        )

    def put(self, key: str, result: LLMResult) -> None:
        parsed = result.parsed.model_dump_json() if result.parsed is not None else None
        now = self._clock()
        values = {
            "key": key, "created": now, "provider": result.provider, "model": result.model,
            "text": result.text, "parsed": parsed, "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens, "finish_reason": result.finish_reason,
        }  # fmt: skip
        try:
            with self._db.write() as conn:
                stale = (_T.c.key == key) | (_T.c.created < now - self.ttl_s)
                conn.execute(delete(_T).where(stale))
                conn.execute(_T.insert().values(**values))
        except IntegrityError:  # another worker cached the same answer meanwhile
            pass

    def delete(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(_T).where(_T.c.key == key))

    def close(self) -> None:
        """The pool is shared by every store of the process (``storage.stores``)."""
