"""OpenAI chat completions through the official SDK; also any OpenAI-compatible server
(Ollama, vLLM, llama.cpp) via ``settings.openai_base_url``.

The SDK's own retries are off (``max_retries=0``): the failover router is the one retry
layer, so attempts never multiply. Built only by ``readloom.llm.registry``.
"""

from __future__ import annotations

import logging
from typing import Any

import openai
import pydantic

from readloom.llm.base import LLMRequest, LLMResult, ProviderError, Usage
from readloom.llm.sdk_errors import bad_output, simple_error, status_error
from readloom.settings import Settings

# The SDK logs request bodies (redacted student text) at DEBUG: never below WARNING.
logging.getLogger("openai").setLevel(max(logging.WARNING, logging.getLogger("openai").level))


def estimate_tokens(chars: int) -> int:
    """About four characters a token: used only when a server sends no usage."""
    return (chars + 3) // 4


class OpenAIProvider:
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.model = settings.openai_model
        self.last_usage = Usage()
        self._settings = settings
        # OpenAI-compatible local servers (Ollama, llama.cpp) take no key.
        self._compatible = settings.openai_base_url is not None
        self._client: openai.AsyncOpenAI | None = None

    def available(self) -> bool:
        key = self._settings.openai_api_key
        return bool(key and key.get_secret_value()) or self._compatible

    @property
    def client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            s = self._settings
            key = s.openai_api_key.get_secret_value() if s.openai_api_key else "not-needed"
            self._client = openai.AsyncOpenAI(
                api_key=key,
                base_url=s.openai_base_url,
                max_retries=0,
                timeout=openai.Timeout(s.llm_timeout_s, connect=s.llm_connect_timeout_s),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _kwargs(self, req: LLMRequest) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in req.messages],
            "temperature": req.temperature,
        }
        # api.openai.com deprecates max_tokens; compatible servers mostly know only it.
        kw["max_tokens" if self._compatible else "max_completion_tokens"] = req.max_tokens
        return kw

    # --- complete ------------------------------------------------------------------
    async def complete(self, req: LLMRequest) -> LLMResult:
        err: ProviderError
        try:
            if req.output_schema is None:
                resp: Any = await self.client.chat.completions.create(**self._kwargs(req))
            else:
                resp = await self.client.chat.completions.parse(
                    response_format=req.output_schema, **self._kwargs(req)
                )
        except openai.APIStatusError as e:
            err = status_error(self.name, e.status_code, e.response.headers, e.body)
        except openai.APITimeoutError:
            err = simple_error(self.name, "timeout")
        except openai.APIConnectionError:
            err = simple_error(self.name, "connection")
        except openai.ContentFilterFinishReasonError:
            err = simple_error(self.name, "content_policy")
        except (openai.LengthFinishReasonError, pydantic.ValidationError, ValueError):
            err = bad_output(self.name)  # truncated, not JSON, or not the schema
        except openai.APIError:
            err = simple_error(self.name, "server")
        else:
            return self._result(resp, req)
        raise err  # outside ``except``: no chained SDK exception (it holds the body)

    def _result(self, resp: Any, req: LLMRequest) -> LLMResult:
        if not resp.choices:
            raise bad_output(self.name)
        choice = resp.choices[0]
        msg = choice.message
        if getattr(msg, "refusal", None) or choice.finish_reason == "content_filter":
            raise simple_error(self.name, "content_policy")
        text = msg.content or ""
        parsed = getattr(msg, "parsed", None) if req.output_schema is not None else None
        if req.output_schema is not None and parsed is None:
            raise bad_output(self.name)
        if resp.usage is not None:
            usage = Usage(
                input_tokens=resp.usage.prompt_tokens or 0,
                output_tokens=resp.usage.completion_tokens or 0,
            )
        else:
            usage = self._estimate(req, text)
        self.last_usage = usage
        return LLMResult(
            text=text,
            parsed=parsed,
            provider=self.name,
            model=resp.model or self.model,
            usage=usage,
            finish_reason=choice.finish_reason,
        )

    @staticmethod
    def _estimate(req: LLMRequest, text: str) -> Usage:
        chars = sum(len(m.content) for m in req.messages)
        return Usage(input_tokens=estimate_tokens(chars), output_tokens=estimate_tokens(len(text)))
