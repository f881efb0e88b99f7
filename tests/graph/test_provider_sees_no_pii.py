"""Whole tutoring sessions through the real graph against a local server that speaks the
OpenAI protocol: no PII value from the K-12 corpus ever reaches the provider, and a draft
that leaks the answer is revised twice, then replaced by the offline tier."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import yaml
from fakes.llm_servers import Reply, fake_openai_server

from readloom.service import Readloom, build_services
from readloom.settings import Settings

CORPUS = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "k12_pii_messages.jsonl"
PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
PASSAGE_ID = "lighthouse-keeper"
TURNS_PER_SESSION = 12
HINT = "Look again at the part of the story about the storm and the lamp. What do you notice?"


def _corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def server():
    with fake_openai_server(default=Reply.ok(HINT)) as srv:
        yield srv


@pytest.fixture(scope="module")
def services(tmp_path_factory, server):
    settings = Settings(
        home=tmp_path_factory.mktemp("pii-gate"),
        providers=["openai", "offline"],
        openai_api_key="sk-test",
        openai_base_url=server.base_url,
        llm_max_attempts=1,
        llm_timeout_s=5,
        rate_limit_per_minute=100_000,
    )
    return build_services(settings)


def _template_lines() -> list[str]:
    """The fixed lines of every prompt template (no ``$variable``), longest first: text
    readloom wrote, never a student's ("K-12" in the grader's is not an age of 12)."""
    lines = set()
    for path in PROMPTS.glob("*/v*.yaml"):
        spec = yaml.safe_load(path.read_text())
        for part in ("system", "user"):
            for line in str(spec.get(part) or "").splitlines():
                if len(line.strip()) >= 20 and "$" not in line:
                    lines.add(line.strip())
    return sorted(lines, key=len, reverse=True)


def _without_templates(bodies: str, lines: list[str]) -> str:
    for line in lines:
        bodies = bodies.replace(line, " ")
    return bodies


def _leaked(values: set[str], bodies: str) -> list[str]:
    return [v for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", bodies, re.I)]


async def test_no_pii_value_reaches_the_provider(services, server):
    messages = _corpus()
    assert len(messages) >= 200
    passage_text = services.store.get(PASSAGE_ID).text
    leaks: list[tuple[str, str]] = []
    templates = _template_lines()
    assert any("K-12" in line for line in templates)  # the grader's prompt says "K-12"
    server.requests.clear()
    async with Readloom(services.settings, services=services) as app:
        for start in range(0, len(messages), TURNS_PER_SESSION):
            sid = f"pii-{uuid.uuid4().hex[:8]}"
            await app.tutor_turn(session_id=sid, message="hi", passage_id=PASSAGE_ID)
            for m in messages[start : start + TURNS_PER_SESSION]:
                before = len(server.requests)
                await app.tutor_turn(session_id=sid, message=m["text"], student_id="s-pii")
                # what readloom's prompts say is not what the student said
                raw = "\n".join(r.raw for r in server.requests[before:])
                bodies = _without_templates(raw, templates)
                # a value that is also a word of the passage sent for grounding is not a leak
                values = {s["value"] for s in m["spans"] if len(s["value"]) >= 2}
                values -= set(_leaked(values, passage_text))
                leaks += [(m["id"], v) for v in _leaked(values, bodies)]
    assert len(server.requests) >= len(messages)  # every turn consulted the provider
    assert leaks == []
    assert "<PERSON_" in server.raw_bodies()  # names were replaced by pseudonyms, not dropped


async def test_leaking_draft_is_revised_twice_then_offline(services, server):
    passage = services.store.get(PASSAGE_ID)
    async with Readloom(services.settings, services=services) as app:
        sid = f"rev-{uuid.uuid4().hex[:8]}"
        await app.tutor_turn(session_id=sid, message="hi", passage_id=PASSAGE_ID)
        server.requests.clear()
        # the "model" answers with the whole passage: it gives every answer away
        server.enqueue(*[Reply.ok(passage.text)] * 3)
        result = await app.tutor_turn(session_id=sid, message="i am stuck")
    tutor_requests = [r for r in server.requests if "tutor" in r.raw]
    assert len(tutor_requests) == 3  # first draft + two revisions
    assert "previous reply had these problems" in tutor_requests[-1].raw
    assert result.provider == "offline"
    assert result.reply and passage.text not in result.reply
