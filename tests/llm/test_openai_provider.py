"""The OpenAI adapter against a local server speaking the chat-completions protocol."""

from __future__ import annotations

import time
import traceback

import pytest
from fakes.llm_servers import Reply, fake_openai_server, refused_base_url
from pydantic import BaseModel

from readloom.llm.base import ChatMessage, LLMRequest, ProviderError
from readloom.llm.openai_provider import OpenAIProvider

SECRET = "Maria Lopez lives at 12 Elm Street"


class Plan(BaseModel):
    intent: str
    move: str


def request(**kw) -> LLMRequest:
    messages = [
        ChatMessage(role="system", content="You are a reading tutor."),
        ChatMessage(role="user", content=kw.pop("text", "What happened first?")),
    ]
    return LLMRequest(task="tutor_reply", messages=messages, prompt_id="tutor_reply@v1", **kw)


async def collect(stream) -> list[str]:
    return [piece async for piece in stream]


async def test_complete_plain(settings_for):
    with fake_openai_server([Reply.ok("Good thinking!", usage=(21, 4))]) as srv:
        p = OpenAIProvider(settings_for(openai=srv))
        result = await p.complete(request(max_tokens=50, temperature=0.1))
        await p.aclose()
    assert result.text == "Good thinking!"
    assert (result.provider, result.model) == ("openai", "gpt-4o-mini")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (21, 4)
    body = srv.requests[0].body
    assert srv.requests[0].path == "/v1/chat/completions"
    assert body["messages"][0] == {"role": "system", "content": "You are a reading tutor."}
    assert body["max_tokens"] == 50 and body["temperature"] == 0.1
    assert srv.requests[0].headers["x-stainless-retry-count"] == "0"


async def test_structured_output_uses_json_schema(settings_for):
    with fake_openai_server([Reply.json({"intent": "help_request", "move": "hint"})]) as srv:
        p = OpenAIProvider(settings_for(openai=srv))
        result = await p.complete(request(output_schema=Plan))
    assert result.parsed == Plan(intent="help_request", move="hint")
    fmt = srv.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema"
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"intent", "move"}


@pytest.mark.parametrize(
    "reply", [Reply.ok('{"intent": "help'), Reply.json({"intent": "x"}), Reply.malformed()]
)
async def test_bad_output_is_retryable_bad_output(settings_for, reply):
    with fake_openai_server([reply]) as srv:
        p = OpenAIProvider(settings_for(openai=srv))
        with pytest.raises(ProviderError) as info:
            await p.complete(request(output_schema=Plan))
    assert info.value.kind == "bad_output" and info.value.retryable


@pytest.mark.parametrize(
    ("reply", "kind", "retryable", "status"),
    [
        (Reply.error(500), "server", True, 500),
        (Reply.error(503), "server", True, 503),
        (Reply.error(401), "auth", False, 401),
        (Reply.error(400), "bad_request", False, 400),
        (Reply.error(400, code="content_policy_violation"), "content_policy", False, 400),
        (Reply.error(429, code="insufficient_quota"), "quota", False, 429),
        (Reply.ok("Nope", finish_reason="content_filter"), "content_policy", False, None),
    ],
)
async def test_errors_are_mapped(settings_for, reply, kind, retryable, status):
    with fake_openai_server([reply]) as srv:
        p = OpenAIProvider(settings_for(openai=srv))
        with pytest.raises(ProviderError) as info:
            await p.complete(request(text=SECRET))
    err = info.value
    assert (err.kind, err.retryable, err.status) == (kind, retryable, status)
    # The fake server quotes the prompt back in its error body: none of it may leak.
    shown = str(err) + repr(err) + "".join(traceback.format_exception(err))
    assert "Maria" not in shown and "Elm" not in shown
    assert err.__cause__ is None and err.__context__ is None


@pytest.mark.parametrize(("header", "seconds"), [("2", 2.0), ("0.25", 0.25)])
async def test_429_carries_retry_after(settings_for, header, seconds):
    with fake_openai_server([Reply.error(429, retry_after=header)]) as srv:
        p = OpenAIProvider(settings_for(openai=srv))
        with pytest.raises(ProviderError) as info:
            await p.complete(request())
    assert info.value.kind == "rate_limited" and info.value.retryable
    assert info.value.retry_after == pytest.approx(seconds)


async def test_hung_socket_times_out_within_the_timeout(settings_for):
    with fake_openai_server([Reply.hang(30)]) as srv:
        p = OpenAIProvider(settings_for(openai=srv, llm_timeout_s=0.3))
        start = time.monotonic()
        with pytest.raises(ProviderError) as info:
            await p.complete(request())
        elapsed = time.monotonic() - start
    assert info.value.kind == "timeout" and info.value.retryable
    assert elapsed < 5.0  # the 0.3 s timeout with room for a busy machine, not the hang


async def test_connection_refused(settings_for):
    p = OpenAIProvider(settings_for(openai=refused_base_url()))
    with pytest.raises(ProviderError) as info:
        await p.complete(request())
    assert info.value.kind == "connection" and info.value.retryable


def test_compatible_server_needs_no_key_and_official_api_uses_max_completion_tokens(
    settings_for,
):
    local = OpenAIProvider(settings_for(openai_base_url="http://127.0.0.1:11434/v1"))
    assert local.available()
    assert "max_tokens" in local._kwargs(request())
    official = OpenAIProvider(settings_for(openai_api_key="sk-x"))
    assert official.available()
    assert "max_completion_tokens" in official._kwargs(request())
    assert not OpenAIProvider(settings_for()).available()
