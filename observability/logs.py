"""Structured JSON logs that carry the trace, and never a student's words.

``configure_logging(settings)`` puts one handler on the root logger: ``JsonFormatter``
writes one JSON object per line with the time, level, logger, message, the current
``trace_id``/``span_id`` and the turn's ``session_id``/``tenant``; readloom's
``"event key=value …"`` messages are also split into fields. ``FreeTextFilter`` runs on
every record first: a message argument that looks like free text (words in a row, an
email address, a phone number, anything long) is replaced by ``[withheld]`` and the
record is flagged ``withheld: n``. Exceptions are logged as their type and stack frames,
never their message (a ``ValidationError`` quotes its input).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import unquote_plus

from opentelemetry import trace

from readloom.observability.tracing import current_scope
from readloom.settings import Settings

WITHHELD = "[withheld]"
_FREE_TEXT = re.compile(
    r"[^\W\d_]{2,}[ \t]+[^\W\d_]{2,}"  # two words in a row: prose, or a full name
    r"|[\w.+-]+@[\w-]+\.\w"  # an email address
    r"|\d{3}[-. )]*\d{3}[-. ]*\d{4}"  # a phone number
)
MAX_ARG_CHARS = 120
_EVENT = re.compile(r"^([a-z][\w.]*)((?: [\w.]+=\S*)*)$")
_PAIR = re.compile(r"([\w.]+)=(\S*)")
_RESERVED = frozenset(
    {"ts", "level", "logger", "msg", "event", "trace_id", "span_id", "session_id", "tenant"}
    | {"withheld", "exc_type", "stack"}
)
_HANDLER_FLAG = "_readloom_json_handler"
# Libraries that log whole payloads below these levels (aiosqlite logs every statement
# with its parameters, checkpoints included, at DEBUG; SQLAlchemy logs SQL at INFO).
# Loggers that print payloads (SQL parameters, request bodies, streamed chunks) below a level:
# held at that floor, and their lower records dropped by the handler whatever level is set.
PAYLOAD_LOGGERS = {
    "aiosqlite": logging.INFO, "httpcore": logging.INFO, "sqlalchemy.engine": logging.WARNING,
    "sse_starlette": logging.INFO, "openai": logging.INFO, "anthropic": logging.INFO,
    "httpx": logging.INFO, "multipart": logging.INFO, "python_multipart": logging.INFO,
    "chromadb": logging.INFO, "langgraph": logging.INFO, "presidio-analyzer": logging.INFO,
}  # fmt: skip


def _below_floor(record: logging.LogRecord) -> bool:
    for name, floor in PAYLOAD_LOGGERS.items():
        if record.name == name or record.name.startswith(name + "."):
            return record.levelno < floor
    return False


def looks_like_free_text(value: object) -> bool:
    if isinstance(value, bool | int | float) or value is None:
        return False
    text = unquote_plus(value if isinstance(value, str) else str(value))  # URL-encoded too
    return len(text) > MAX_ARG_CHARS or bool(_FREE_TEXT.search(text))


def _clean(value: object) -> tuple[object, bool]:
    """The argument to log, and whether something was withheld. A URL keeps its path
    but never its query string (``?name=…``); anything else that looks like free text
    is replaced whole."""
    if isinstance(value, bool | int | float) or value is None:
        return value, False
    text = value if isinstance(value, str) else str(value)
    if "://" in text and "?" in text:
        text, value = text.split("?", 1)[0], text.split("?", 1)[0] + "?" + WITHHELD
        return (WITHHELD, True) if looks_like_free_text(text) else (value, True)
    return (WITHHELD, True) if looks_like_free_text(text) else (value, False)


class FreeTextFilter(logging.Filter):
    """Withholds free-text message arguments and records trace and turn context."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _below_floor(record):
            return False  # e.g. sse_starlette at DEBUG prints every streamed chunk
        withheld = 0
        args = record.args
        if isinstance(args, tuple) and args:
            clean = []
            for a in args:
                value, hidden = _clean(a)
                withheld += hidden
                clean.append(value)
            record.args = tuple(clean)
        elif isinstance(args, dict) and args:
            clean_map = {}
            for k, a in args.items():
                clean_map[k], hidden = _clean(a)
                withheld += hidden
            record.args = clean_map
        if withheld:
            record.withheld = withheld
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        scope = current_scope()
        if scope is not None:
            attrs = scope.attributes()
            record.session_id = attrs.get("session.id")
            record.tenant = attrs.get("readloom.tenant")
        return True


class LevelFloor(logging.Filter):
    """Nothing below the chosen level, even from a library that sets its own logger to
    DEBUG when imported (bm25s does: one debug line per tutor run). The web server's own
    loggers keep the level ``serve --log-level`` gives them."""

    HONOURED = ("uvicorn",)

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or record.name.split(".")[0] in self.HONOURED


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = str(record.msg)
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": message,
        }
        if m := _EVENT.match(message):
            out["event"] = m.group(1)
            for key, value in _PAIR.findall(m.group(2)):
                if key not in _RESERVED:
                    out[key] = value
        for key in ("trace_id", "span_id", "session_id", "tenant", "withheld"):
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _, tb = record.exc_info
            out["exc_type"] = exc_type.__name__
            out["stack"] = [
                f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)
            ]
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(
    settings: Settings | None = None, *, level: int | str = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """JSON lines on ``stream`` (stderr) from every logger. Idempotent: a second call
    replaces readloom's handler instead of adding another."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_FLAG, True)
    handler.addFilter(FreeTextFilter())
    handler.setFormatter(JsonFormatter())
    level = level.upper() if isinstance(level, str) else level
    root.setLevel(level)
    handler.addFilter(LevelFloor(root.getEffectiveLevel()))
    root.addHandler(handler)
    for name, floor in PAYLOAD_LOGGERS.items():
        # exactly the floor: the handler drops what is below the chosen level, and a level
        # taken from an earlier call (or the root's) would silence these loggers for good
        logging.getLogger(name).setLevel(floor)
    return handler
