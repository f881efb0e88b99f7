"""OfflineProvider: the Provider contract, usage figures, streaming, refusals."""

from __future__ import annotations

import pytest

from readloom.llm.base import ChatMessage, LLMRequest, Provider, ProviderError
from readloom.llm.offline import OfflineProvider
from readloom.settings import Settings
from readloom.state import QuestionSet


def _request(task: str, variables: dict, **extra) -> LLMRequest:
    messages = [
        ChatMessage(role="system", content="You are a reading tutor."),
        ChatMessage(role="user", content="Rendered prompt text the offline tier never reads."),
    ]
    return LLMRequest(
        task=task, messages=messages, variables=variables, prompt_id=f"{task}@1", **extra
    )


def _questions(passage, count: int = 5) -> dict:
    return {
        "passage_title": passage.title,
        "passage_text": passage.text,
        "count": count,
        "grade": passage.grade,
        "types": ["who", "what", "where", "when", "why", "vocabulary", "main_idea", "sequence"],
    }


def _tutor(passage, q, move: str = "hint", level: int = 1) -> dict:
    return {
        "passage_title": passage.title,
        "excerpts": passage.paragraphs[:2],
        "student_message": "I'm stuck, <PERSON_1> says it's easy",
        "question": q.question,
        "answer": q.answer,
        "evidence": q.evidence,
        "move": move,
        "hint_level": level,
        "grade": passage.grade,
        "student_correct": None,
    }


@pytest.fixture(scope="module")
def provider() -> OfflineProvider:
    return OfflineProvider(Settings())


def test_implements_the_provider_protocol(provider):
    assert isinstance(provider, Provider)
    assert (provider.name, provider.model) == ("offline", "offline-rules-v1")
    assert provider.available()
    assert Settings().prices[provider.model] == {"input": 0.0, "output": 0.0}


async def test_questions_result(provider, passage, nlp):
    result = await provider.complete(
        _request("questions", _questions(passage), output_schema=QuestionSet)
    )
    assert isinstance(result.parsed, QuestionSet)
    assert len(result.parsed.questions) == 5
    assert QuestionSet.model_validate_json(result.text) == result.parsed
    assert (result.provider, result.model, result.finish_reason) == (
        "offline",
        "offline-rules-v1",
        "stop",
    )
    assert result.usage.input_tokens == sum(
        len(m.content.split()) for m in _request("questions", {}).messages
    )
    assert result.usage.output_tokens == len(result.text.split())
    assert provider.last_usage == result.usage


async def test_reads_variables_not_messages(provider, passage, nlp):
    variables = _questions(passage)
    a = await provider.complete(_request("questions", variables))
    b = await provider.complete(
        LLMRequest(task="questions", messages=[], variables=variables, prompt_id="questions@2")
    )
    assert a.text == b.text
    assert b.usage.input_tokens > len(passage.text.split())  # counted from the variables


async def test_explain_differs_from_a_hint(provider, passage, question_sets):
    q = question_sets[passage.key][2]
    hint = await provider.complete(_request("tutor_reply", _tutor(passage, q, level=2)))
    explain = await provider.complete(_request("explain", _tutor(passage, q, level=2)))
    assert hint.text != explain.text


@pytest.mark.parametrize("task", ["plan", "judge"])
async def test_other_tasks_are_refused(provider, task):
    with pytest.raises(ProviderError) as info:
        await provider.complete(_request(task, {"anything": "secret student text"}))
    err = info.value
    assert (err.kind, err.retryable, err.provider) == ("bad_request", False, "offline")
    assert task in str(err) and "secret" not in str(err)


async def test_bad_variables_are_refused_without_echoing_them(provider, nlp):
    variables = {"passage_title": "T", "count": "many", "grade": 3}
    with pytest.raises(ProviderError) as info:
        await provider.complete(_request("questions", variables))
    assert info.value.kind == "bad_request" and not info.value.retryable
    assert "passage_text" in str(info.value) and "many" not in str(info.value)
