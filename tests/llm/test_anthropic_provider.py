"""The Anthropic adapter against a local server speaking the messages protocol."""

from __future__ import annotations

import time
import traceback

import pytest
from fakes.llm_servers import Reply, fake_anthropic_server
from pydantic import BaseModel

from readloom.llm.anthropic_provider import AnthropicProvider
from readloom.llm.base import ChatMessage, LLMRequest, ProviderError

SECRET = "Maria Lopez is my best friend"


class Plan(BaseModel):
    intent: str
    move: str


def request(**kw) -> LLMRequest:
    messages = [
        ChatMessage(role="system", content="You are a reading tutor."),
        ChatMessage(role="user", content=kw.pop("text", "What happened first?")),
    ]
    return LLMRequest(task="plan", messages=messages, prompt_id="plan@v1", **kw)


async def test_complete_separates_system_message(settings_for):
    with fake_anthropic_server([Reply.ok("Look at paragraph two.", usage=(40, 6))]) as srv:
        p = AnthropicProvider(settings_for(anthropic=srv))
        result = await p.complete(request(max_tokens=80))
        await p.aclose()
    assert result.text == "Look at paragraph two."
    assert (result.provider, result.model) == ("anthropic", "claude-haiku-4-5")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (40, 6)
    body = srv.requests[0].body
    assert srv.requests[0].path == "/v1/messages"
    assert body["system"] == "You are a reading tutor."
    assert body["messages"] == [{"role": "user", "content": "What happened first?"}]
    assert body["max_tokens"] == 80
    assert srv.requests[0].headers["x-stainless-retry-count"] == "0"


async def test_structured_output_is_a_forced_tool_call(settings_for):
    with fake_anthropic_server([Reply.json({"intent": "answer_attempt", "move": "probe"})]) as srv:
        p = AnthropicProvider(settings_for(anthropic=srv))
        result = await p.complete(request(output_schema=Plan))
    assert result.parsed == Plan(intent="answer_attempt", move="probe")
    body = srv.requests[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "record_Plan"}
    assert body["tools"][0]["input_schema"]["properties"].keys() == {"intent", "move"}


@pytest.mark.parametrize(
    "reply",
    [
        Reply.ok("I think the plan is to probe."),  # answered in prose, no tool call
        Reply.json({"intent": "answer_attempt"}),  # tool call missing a field
        Reply.malformed(),  # body is not JSON
    ],
)
async def test_bad_structured_output(settings_for, reply):
    with fake_anthropic_server([reply]) as srv:
        p = AnthropicProvider(settings_for(anthropic=srv))
        with pytest.raises(ProviderError) as info:
            await p.complete(request(output_schema=Plan))
    assert info.value.kind == "bad_output" and info.value.retryable


@pytest.mark.parametrize(
    ("reply", "kind", "retryable"),
    [
        (Reply.error(500), "server", True),
        (Reply.error(529, code="overloaded_error"), "server", True),
        (Reply.error(401), "auth", False),
        (Reply.error(400), "bad_request", False),
        (Reply.ok("I can't help with that.", finish_reason="refusal"), "content_policy", False),
    ],
)
async def test_errors_are_mapped(settings_for, reply, kind, retryable):
    with fake_anthropic_server([reply]) as srv:
        p = AnthropicProvider(settings_for(anthropic=srv))
        with pytest.raises(ProviderError) as info:
            await p.complete(request(text=SECRET))
    err = info.value
    assert (err.kind, err.retryable) == (kind, retryable)
    shown = str(err) + repr(err) + "".join(traceback.format_exception(err))
    assert "Maria" not in shown
    assert err.__cause__ is None and err.__context__ is None


async def test_429_carries_retry_after(settings_for):
    with fake_anthropic_server([Reply.error(429, retry_after=3)]) as srv:
        p = AnthropicProvider(settings_for(anthropic=srv))
        with pytest.raises(ProviderError) as info:
            await p.complete(request())
    assert (info.value.kind, info.value.retry_after, info.value.status) == ("rate_limited", 3, 429)


async def test_hung_socket_times_out(settings_for):
    with fake_anthropic_server([Reply.hang(30)]) as srv:
        p = AnthropicProvider(settings_for(anthropic=srv, llm_timeout_s=0.3))
        start = time.monotonic()
        with pytest.raises(ProviderError) as info:
            await p.complete(request())
    assert info.value.kind == "timeout" and time.monotonic() - start < 5.0


def test_no_key_means_unavailable(settings_for):
    assert not AnthropicProvider(settings_for()).available()
    assert AnthropicProvider(settings_for(anthropic_api_key="k")).available()
