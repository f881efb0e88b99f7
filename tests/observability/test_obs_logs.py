"""JSON log lines: trace and turn context on every record, readloom's key=value messages
as fields, free-text arguments withheld, exception messages never written."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from readloom.observability.logs import WITHHELD, configure_logging, looks_like_free_text
from readloom.observability.telemetry import build_telemetry
from readloom.observability.tracing import TurnScope, bind, span, turn_scope


@pytest.fixture
def logged():
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(level="INFO", stream=stream)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)
    bind(None, None)


@pytest.mark.parametrize(
    ("value", "free"),
    [
        ("openai:server", False),
        ("PERSON,EMAIL_ADDRESS", False),
        (["openai:server", "offline:internal"], False),
        ("tutor_reply@v1", False),
        (42, False),
        ("Maria Lopez", True),
        ("my name is maria", True),
        ("maria.lopez@example.com", True),
        ("555-867-5309", True),
        ("(555) 867-5309", True),
        ("x" * 200, True),
        ("maria%20lopez", True),
        ("xiomara.q%40example.com", True),
    ],
)
def test_free_text_heuristic(value, free):
    assert looks_like_free_text(value) is free


def test_records_carry_trace_and_turn_and_split_key_values(logged):
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(environ={}, span_processors=[SimpleSpanProcessor(exporter)])
    bind(telemetry.tracer_provider, None)
    log = logging.getLogger("readloom.test")
    scope = TurnScope(session_id="ses-42", tenant="district-1", mode="tutor")
    with turn_scope(scope), span("node executor"):
        log.info("llm_gate_call tenant=%s provider=%s attempts=%d", "district-1", "openai", 2)
    log.info("outside a turn n=%d", 1)
    inside, outside = logged()
    (exported,) = exporter.get_finished_spans()
    assert inside["trace_id"] == format(exported.context.trace_id, "032x")
    assert inside["span_id"] == format(exported.context.span_id, "016x")
    assert inside["session_id"] == "ses-42" and inside["tenant"] == "district-1"
    assert inside["event"] == "llm_gate_call"
    assert (inside["provider"], inside["attempts"]) == ("openai", "2")
    assert inside["level"] == "info" and inside["logger"] == "readloom.test"
    assert "trace_id" not in outside and "session_id" not in outside


def test_free_text_arguments_are_withheld_and_flagged(logged):
    log = logging.getLogger("readloom.test")
    log.warning("student_said text=%s code=%s", "my name is Maria Lopez", "injection")
    log.info("mapping %(who)s %(n)d", {"who": "maria.lopez@example.com", "n": 3})
    first, second = logged()
    assert first["msg"] == f"student_said text={WITHHELD} code=injection"
    assert first["withheld"] == 1
    assert second["msg"] == f"mapping {WITHHELD} 3"
    assert "Maria" not in json.dumps([first, second]) and "maria" not in json.dumps(second)


def test_exceptions_are_logged_as_type_and_frames_never_their_message(logged):
    log = logging.getLogger("readloom.test")
    try:
        raise ValueError("input_value='my name is Maria Lopez'")
    except ValueError:
        log.exception("turn_failed code=%s", "internal")
    (record,) = logged()
    assert record["exc_type"] == "ValueError"
    assert record["stack"] and record["stack"][0].endswith(
        "in test_exceptions_are_logged_as_type_and_frames_never_their_message"
    )
    assert "Maria" not in json.dumps(record)


def test_configure_logging_is_idempotent_and_caps_payload_loggers(logged):
    stream = io.StringIO()
    handler = configure_logging(level="DEBUG", stream=stream)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_readloom_json_handler", False)]
    assert ours == [handler]
    assert logging.getLogger("aiosqlite").getEffectiveLevel() >= logging.INFO
    logging.getLogger("aiosqlite").debug("executing %s", "INSERT ... 'my name is Maria'")
    assert "Maria" not in stream.getvalue()


def test_urls_keep_their_path_but_never_their_query(logged):
    log = logging.getLogger("httpx")
    url = "https://partner.example/hooks/lms?student=Maria+Lopez&email=maria%40example.com"
    log.info('HTTP Request: %s %s "%s %d %s"', "POST", url, "HTTP/1.1", 200, "OK")
    log.info("fetched %s", "https://api.openai.com/v1/chat/completions")
    first, second = logged()
    assert (
        first["msg"]
        == f'HTTP Request: POST https://partner.example/hooks/lms?{WITHHELD} "HTTP/1.1 200 OK"'
    )
    assert first["withheld"] == 1
    assert second["msg"] == "fetched https://api.openai.com/v1/chat/completions"


def test_a_library_that_sets_its_logger_to_debug_stays_quiet():
    """bm25s sets its logger to DEBUG when imported; at the default level (WARNING) its
    "Building index from tokens" must not reach the terminal. uvicorn's own level holds."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(level="WARNING", stream=stream)
    chatty, server = logging.getLogger("bm25s"), logging.getLogger("uvicorn.error")
    chatty_level, server_level = chatty.level, server.level
    # as under `readloom serve` (log_config=None): uvicorn's loggers reach the root handler,
    # even after an in-process test server installed uvicorn's own non-propagating config
    parent = logging.getLogger("uvicorn")
    propagates = parent.propagate, server.propagate
    parent.propagate = server.propagate = True
    try:
        import bm25s  # noqa: F401 - importing it is what sets the level

        assert logging.getLogger("bm25s").level == logging.DEBUG
        chatty.debug("Building index from tokens")
        chatty.info("an info line")
        chatty.warning("bm25s_warning")
        server.setLevel(logging.INFO)
        server.info("Shutting down")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [(r["logger"], r["msg"]) for r in lines] == [
            ("bm25s", "bm25s_warning"),
            ("uvicorn.error", "Shutting down"),
        ]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        chatty.setLevel(chatty_level)
        server.setLevel(server_level)
        parent.propagate, server.propagate = propagates
