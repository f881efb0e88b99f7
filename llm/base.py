"""The one provider contract every model tier implements (OpenAI, Anthropic, offline).

Agents never see a provider: they call ``readloom.llm.gate.LLMGate``, which redacts,
routes through the failover router and records provenance. Everything here is
already-redacted text.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["tutor_reply", "questions", "plan", "judge", "explain", "grade"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Literal["system", "user", "assistant"]
    content: str


class LLMRequest(BaseModel):
    """A redacted request. ``variables`` are the prompt's inputs, which the offline tier
    reads directly instead of parsing the rendered ``messages``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    task: Task
    messages: list[ChatMessage]
    variables: dict[str, Any] = Field(default_factory=dict)
    prompt_id: str = Field(description="'name@version' of the prompt template")
    output_schema: type[BaseModel] | None = None
    max_tokens: int = 600
    temperature: float = 0.3
    tenant: str = "default"
    cacheable: bool = False
    only_providers: list[str] | None = Field(
        default=None, description="Restrict the chain, e.g. ['offline'] for the safe fallback"
    )


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class LLMResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str
    parsed: BaseModel | None = None
    provider: str
    model: str
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None


class Provenance(BaseModel):
    """Where an answer came from; stored with every answer and shown to teachers."""

    provider: str
    model: str
    prompt: str
    attempts: int = 1
    fallback_reasons: list[str] = Field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    passage_ids: list[str] = Field(default_factory=list)


class ProviderError(Exception):
    """A provider failure in our own terms; the message never carries prompt text."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        kind: str = "error",
    ):
        super().__init__(message)
        self.provider = provider
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.kind = kind  # timeout | rate_limited | server | connection | stream | auth | bad_request | bad_output


class AllProvidersFailed(ExceptionGroup):
    """Every tier failed (only possible when ``offline`` is not in the chain)."""


@runtime_checkable
class Provider(Protocol):
    name: str
    model: str

    def available(self) -> bool:
        """False when the provider has no key (it is then skipped)."""
        ...

    async def complete(self, req: LLMRequest) -> LLMResult: ...
