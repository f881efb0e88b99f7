"""Anthropic messages through the official SDK.

System messages go in the separate ``system`` field; ``req.temperature`` is not sent
(this SDK's ``messages.create`` no longer takes sampling options); structured output is
a forced tool call whose input schema is the pydantic model's JSON schema. SDK retries are off
(``max_retries=0``): the failover router is the one retry layer. Built only by
``readloom.llm.registry``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import anthropic
import pydantic

from readloom.llm.base import LLMRequest, LLMResult, ProviderError, Usage
from readloom.llm.sdk_errors import bad_output, simple_error, status_error
from readloom.settings import Settings

# The SDK logs request bodies (redacted student text) at DEBUG: never below WARNING.
_sdk_log = logging.getLogger("anthropic")
_sdk_log.setLevel(max(logging.WARNING, _sdk_log.level))


def tool_name(schema: type[pydantic.BaseModel]) -> str:
    return ("record_" + re.sub(r"[^a-zA-Z0-9_-]", "_", schema.__name__))[:64]


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, settings: Settings) -> None:
        self.model = settings.anthropic_model
        self.last_usage = Usage()
        self._settings = settings
        self._client: anthropic.AsyncAnthropic | None = None

    def available(self) -> bool:
        key = self._settings.anthropic_api_key
        return bool(key and key.get_secret_value())

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            s = self._settings
            assert s.anthropic_api_key is not None, "provider is not available"
            self._client = anthropic.AsyncAnthropic(
                api_key=s.anthropic_api_key.get_secret_value(),
                base_url=s.anthropic_base_url,
                max_retries=0,
                timeout=anthropic.Timeout(s.llm_timeout_s, connect=s.llm_connect_timeout_s),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _kwargs(self, req: LLMRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in req.messages if m.role == "system")
        kw: dict[str, Any] = {
            "model": self.model,
            "max_tokens": req.max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in req.messages if m.role != "system"
            ],
        }
        if system:
            kw["system"] = system
        if req.output_schema is not None:
            name = tool_name(req.output_schema)
            kw["tools"] = [
                {
                    "name": name,
                    "description": "Record the answer in exactly this structure.",
                    "input_schema": req.output_schema.model_json_schema(),
                }
            ]
            kw["tool_choice"] = {"type": "tool", "name": name}
        return kw

    def _map(self, e: Exception) -> ProviderError:
        if isinstance(e, anthropic.APIStatusError):
            return status_error(self.name, e.status_code, e.response.headers, e.body)
        if isinstance(e, anthropic.APITimeoutError):
            return simple_error(self.name, "timeout")
        if isinstance(e, anthropic.APIConnectionError):
            return simple_error(self.name, "connection")
        if isinstance(e, ValueError):  # a body that is not JSON
            return bad_output(self.name)
        return simple_error(self.name, "server")

    # --- complete ------------------------------------------------------------------
    async def complete(self, req: LLMRequest) -> LLMResult:
        try:
            resp = await self.client.messages.create(**self._kwargs(req))
        except (anthropic.APIError, ValueError) as e:
            err = self._map(e)
        else:
            return self._result(resp, req)
        raise err  # outside ``except``: no chained SDK exception (it holds the body)

    def _result(self, resp: Any, req: LLMRequest) -> LLMResult:
        if resp.stop_reason == "refusal":
            raise simple_error(self.name, "content_policy")
        parsed = None
        if req.output_schema is not None:
            name = tool_name(req.output_schema)
            calls = [b for b in resp.content if b.type == "tool_use" and b.name == name]
            if not calls:
                raise bad_output(self.name)
            try:
                parsed = req.output_schema.model_validate(calls[0].input)
            except pydantic.ValidationError:
                parsed = None
            if parsed is None:
                raise bad_output(self.name)
            text = json.dumps(calls[0].input)
        else:
            text = "".join(b.text for b in resp.content if b.type == "text")
        usage = Usage(
            input_tokens=resp.usage.input_tokens or 0, output_tokens=resp.usage.output_tokens or 0
        )
        self.last_usage = usage
        return LLMResult(
            text=text,
            parsed=parsed,
            provider=self.name,
            model=resp.model or self.model,
            usage=usage,
            finish_reason=resp.stop_reason,
        )
