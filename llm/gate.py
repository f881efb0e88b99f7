"""``LLMGate``: the one entry point to every model. Nothing else reaches a provider.

Per request: rate limit -> redact every message and every string in ``variables``
(fails closed; in a worker thread, so the event loop keeps serving other students) -> cache (cacheable requests) -> monthly budget -> failover router ->
usage ledger -> provenance. The text that comes back stays pseudonymized
(``<PERSON_1>``); re-identification for the viewer is guard_out's job.

Providers are built only in ``readloom.llm.registry`` and only the gate holds the router,
so an agent cannot reach a provider with raw text; ``tests/llm/test_gate_is_only_entry.py``
fails the build if any module outside ``readloom.llm`` imports an SDK, a provider, the
router or the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from cachetools import LRUCache
from pydantic import BaseModel, ConfigDict

from readloom.errors import GuardrailDenied
from readloom.guardrails.base import Redactor
from readloom.llm.base import ChatMessage, LLMRequest, LLMResult, Provenance, Usage
from readloom.llm.budget import TenantLimits
from readloom.llm.cache import ResponseCache, cache_key
from readloom.llm.registry import ProviderFactory, build_router
from readloom.llm.router import FailoverRouter, RouteTrace
from readloom.llm.usage import UsageLedger, cost_usd
from readloom.observability.genai import (
    record_cache_lookup,
    record_llm_call,
    record_redaction,
    traced_generate,
)
from readloom.settings import Settings

log = logging.getLogger(__name__)

RedactorFactory = Callable[[Settings], Redactor]
REDACTION_FAILED = "We couldn't safely prepare this message, so it was not sent. Please try again."
_MEMO_SIZE = 4096
_MIN_SPLICE = 16  # characters


def default_redactor(settings: Settings) -> Redactor:
    """The production redactor (Presidio + per-session pseudonym vault)."""
    from readloom.guardrails.pii import PiiRedactor

    return PiiRedactor(settings)


class GatedResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str  # pseudonymized
    parsed: BaseModel | None = None
    provenance: Provenance


class _RedactionError(Exception):
    """Raised inside redaction; turned into a GuardrailDenied with no text in it."""


def _spliced_values(variables: Mapping[str, Any]) -> set[str]:
    """Single-line string values of the request's variables, long enough to be found in
    a rendered prompt line without matching by accident."""
    out: set[str] = set()
    stack: list[Any] = list(variables.values())
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if len(v.strip()) >= _MIN_SPLICE and "\n" not in v:
                out.add(v)
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return out


def _strings(value: Any) -> list[str]:
    """Every string in a parsed reply (keys are the schema's, never personal data)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


class LLMGate:
    def __init__(
        self,
        settings: Settings,
        redactor: Redactor,
        router: FailoverRouter,
        ledger: UsageLedger,
        budget: TenantLimits,
        cache: ResponseCache | None,
    ) -> None:
        self.settings = settings
        self.redactor = redactor
        self.router = router
        self.ledger = ledger
        self.budget = budget
        self.cache = cache
        self._memo: LRUCache[str, str] = LRUCache(maxsize=_MEMO_SIZE)
        self._memo_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        redactor: Redactor | None = None,
        *,
        redactor_factory: RedactorFactory = default_redactor,
        provider_factories: Mapping[str, ProviderFactory] | None = None,
        **router_kw: Any,
    ) -> LLMGate:
        """The default wiring: providers from ``READLOOM_PROVIDERS``, SQLite ledger and
        cache under ``READLOOM_HOME``, the Presidio redactor unless one is given."""
        ledger = UsageLedger.from_settings(settings)
        return cls(
            settings,
            redactor if redactor is not None else redactor_factory(settings),
            build_router(settings, factories=provider_factories, **router_kw),
            ledger,
            TenantLimits(settings, ledger),
            ResponseCache.from_settings(settings),
        )

    # --- redaction ---------------------------------------------------------------------
    def redact_request(
        self, req: LLMRequest, *, session_id: str, allow_list: frozenset[str]
    ) -> LLMRequest:
        """A copy of ``req`` with every message and variable string redacted.

        Any failure (the redactor raising, an unknown value type) denies the request.
        """
        found: list[str] = []

        def text(s: str) -> str:
            if not s.strip():
                return s
            key = hashlib.sha256(f"{session_id}\0{sorted(allow_list)}\0{s}".encode()).hexdigest()
            with self._memo_lock:
                done = self._memo.get(key)
            if done is not None:
                return done
            out = "".join(line(part) for part in s.splitlines(keepends=True))
            with self._memo_lock:
                self._memo[key] = out
            return out

        pieces = sorted(_spliced_values(req.variables), key=len, reverse=True)

        def line(s: str) -> str:
            # Line by line: a prompt repeats the passage's lines turn after turn, and the
            # redactor's analysis of a line it has seen before is a cache hit. A variable's
            # value spliced into a template line is analysed on its own (the template text
            # around it is fixed), so the same analysis serves the line and the variable.
            if not s.strip():
                return s
            for piece in pieces:
                at = s.find(piece)
                if at >= 0 and piece != s:
                    return line(s[:at]) + line(piece) + line(s[at + len(piece) :])
            red = self.redactor.redact(s, session_id=session_id, allow_list=allow_list)
            if not isinstance(red.text, str):
                raise _RedactionError("redactor returned no text")
            found.extend(red.entities)
            return red.text

        def value(v: Any) -> Any:
            if v is None or isinstance(v, bool | int | float | Enum):
                return v
            if isinstance(v, str):
                return text(v)
            if isinstance(v, dict):
                return {(text(k) if isinstance(k, str) else k): value(x) for k, x in v.items()}
            if isinstance(v, list | tuple | set | frozenset):
                return type(v)(value(x) for x in v)
            if isinstance(v, BaseModel):
                fields = {name: value(getattr(v, name)) for name in type(v).model_fields}
                return type(v).model_construct(_fields_set=v.model_fields_set, **fields)
            if dataclasses.is_dataclass(v) and not isinstance(v, type):
                init = {f.name: value(getattr(v, f.name)) for f in dataclasses.fields(v) if f.init}
                return dataclasses.replace(v, **init)
            raise _RedactionError(f"cannot redact a {type(v).__name__}")  # fail closed

        err: GuardrailDenied | None = None
        try:
            messages = [ChatMessage(role=m.role, content=text(m.content)) for m in req.messages]
            variables = {k: value(v) for k, v in req.variables.items()}  # names stay
        except Exception as e:  # noqa: BLE001 - any redaction failure denies (fail closed)
            log.warning("llm_gate_redaction_failed error=%s", type(e).__name__)
            err = GuardrailDenied(REDACTION_FAILED, code="redaction_failed")
        if err is not None:
            raise err  # outside ``except``: nothing chained that could hold text
        if found:
            log.info(
                "llm_gate_redacted entities=%d types=%s", len(found), ",".join(sorted(set(found)))
            )
            record_redaction(found)
        return req.model_copy(update={"messages": messages, "variables": variables})

    async def _redact(
        self, req: LLMRequest, session_id: str, allow_list: frozenset[str]
    ) -> LLMRequest:
        """Redaction is CPU-bound (Presidio, spaCy): keep it off the event loop so other
        students' streams keep flowing. Within one request it runs serially."""
        return await asyncio.to_thread(
            self.redact_request, req, session_id=session_id, allow_list=allow_list
        )

    # --- generate ----------------------------------------------------------------------
    @traced_generate
    async def generate(
        self,
        req: LLMRequest,
        *,
        session_id: str,
        allow_list: frozenset[str] = frozenset(),
        student_id: str | None = None,
    ) -> GatedResult:
        start = time.perf_counter()
        if self._counted(req):
            await self.budget.limiter.off_loop(self.budget.admit, req.tenant)
        clean = await self._redact(req, session_id, allow_list)
        key = self._cache_key(clean)
        # Ledger and cache writes run in a thread: on SQLite the app's async writer may
        # hold the database's write lock across an await (see storage.stores).
        if key is not None and (
            hit := await asyncio.to_thread(self._from_cache, key, clean, student_id)
        ):
            return hit
        # the month's total is re-read from the database every few seconds: off the loop
        await asyncio.to_thread(self.budget.check_budget, clean.tenant)
        routed = await self.router.route(clean)
        result = self._parse(routed.result, clean)
        provenance = await asyncio.to_thread(
            self._record, clean, result, routed.trace, student_id, start
        )
        if key is not None:
            await self._store(key, result, allow_list)
        return GatedResult(text=result.text, parsed=result.parsed, provenance=provenance)

    # --- helpers -----------------------------------------------------------------------
    def _counted(self, req: LLMRequest) -> bool:
        """Whether a call counts against the tenant's rate: only when it would reach a
        paid provider, and not an internal redraft (the evaluator's revision of a turn
        already counted)."""
        if req.variables.get("revision"):
            return False
        live = [p for p in self.router.providers_for(req) if p.available()]
        return bool(live) and live[0].name != "offline"

    def _cache_key(self, req: LLMRequest) -> str | None:
        if not req.cacheable or self.cache is None:
            return None
        return cache_key(req, self.router.chain(req))

    def _from_cache(self, key: str, req: LLMRequest, student_id: str | None) -> GatedResult | None:
        assert self.cache is not None
        hit = self.cache.get(key, req.output_schema)
        record_cache_lookup(req.tenant, hit=hit is not None)
        if hit is None:
            return None
        self.ledger.record(
            tenant=req.tenant,
            provider=hit.provider,
            model=hit.model,
            prompt_id=req.prompt_id,
            usage=Usage(),
            cost_usd=0.0,
            cached=True,
            student_id=student_id,
        )
        record_llm_call(
            tenant=req.tenant, task=req.task, provider=hit.provider, model=hit.model,
            usage=hit.usage, cost_usd=0.0, cached=True,
        )  # fmt: skip
        log.info("llm_gate_cache_hit tenant=%s prompt=%s", req.tenant, req.prompt_id)
        provenance = Provenance(
            provider=hit.provider, model=hit.model, prompt=req.prompt_id, attempts=0, cached=True
        )
        return GatedResult(text=hit.text, parsed=hit.parsed, provenance=provenance)

    async def _store(self, key: str, result: LLMResult, allow_list: frozenset[str]) -> None:
        # The offline tier is cheap to rerun, and caching it would pin a fallback answer
        # for a whole TTL after the real providers come back.
        if self.cache is None or result.provider == "offline":
            return
        if not await asyncio.to_thread(self._clean, result, allow_list):
            log.info("llm_gate_cache_skip reason=personal_data provider=%s", result.provider)
            return
        await asyncio.to_thread(self.cache.put, key, result)

    def _clean(self, result: LLMResult, allow_list: frozenset[str]) -> bool:
        """Only redacted text is cached: a reply in which the model wrote (or echoed)
        personal data beyond the pseudonyms is served once and never stored."""
        mask = getattr(self.redactor, "mask", None)
        if mask is None:
            return False  # cannot check: do not store (fail closed)
        texts = [result.text]
        if result.parsed is not None:  # its values one a line: NER misreads compact JSON
            texts.append("\n".join(_strings(result.parsed.model_dump(mode="json"))))
        try:
            return not any(mask(t, allow_list=allow_list).entities for t in texts if t)
        except Exception:  # noqa: BLE001 - a failed check stores nothing
            return False

    @staticmethod
    def _parse(result: LLMResult, req: LLMRequest) -> LLMResult:
        if req.output_schema is None or result.parsed is not None:
            return result
        try:
            parsed = req.output_schema.model_validate_json(result.text)
        except ValueError:
            return result
        return result.model_copy(update={"parsed": parsed})

    def _record(
        self,
        req: LLMRequest,
        result: LLMResult,
        trace: RouteTrace,
        student_id: str | None,
        start: float,
    ) -> Provenance:
        cost = cost_usd(result.model, result.usage, self.settings.prices)
        self.ledger.record(
            tenant=req.tenant,
            provider=result.provider,
            model=result.model,
            prompt_id=req.prompt_id,
            usage=result.usage,
            cost_usd=cost,
            student_id=student_id,
        )
        record_llm_call(
            tenant=req.tenant, task=req.task, provider=result.provider, model=result.model,
            usage=result.usage, cost_usd=cost,
        )  # fmt: skip
        log.info(
            "llm_gate_call tenant=%s task=%s prompt=%s provider=%s model=%s attempts=%d "
            "fallbacks=%s in=%d out=%d cost_usd=%.6f ms=%.1f",
            req.tenant,
            req.task,
            req.prompt_id,
            result.provider,
            result.model,
            trace.attempts,
            ",".join(trace.fallback_reasons) or "-",
            result.usage.input_tokens,
            result.usage.output_tokens,
            cost,
            (time.perf_counter() - start) * 1000,
        )
        return Provenance(
            provider=result.provider,
            model=result.model,
            prompt=req.prompt_id,
            attempts=trace.attempts,
            fallback_reasons=list(trace.fallback_reasons),
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=cost,
        )

    async def aclose(self) -> None:
        for provider in self.router.providers:
            close = getattr(provider, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        self.ledger.close()
        if self.cache is not None:
            self.cache.close()
