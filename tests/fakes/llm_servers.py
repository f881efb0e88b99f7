"""Real local HTTP servers speaking the OpenAI chat-completions and Anthropic messages
protocols, for tests and benchmarks that run the official SDKs end to end.

Each server answers from a script of ``Reply`` objects (one per request, in order; the
``default`` reply once the script is used up) and records every request it receives, so
a test can assert on exactly what left the process (e.g. that no PII value did).

    from fakes.llm_servers import Reply, fake_openai_server

    with fake_openai_server([Reply.error(500), Reply.ok("Hi")]) as srv:
        settings = Settings(openai_base_url=srv.base_url, openai_api_key="test", ...)
        ...
        assert len(srv.requests) == 2 and "Maria" not in srv.raw_bodies()

Faults: HTTP errors (with ``Retry-After``), a hung socket, a stream cut mid-way (abrupt
close, or a clean end with no finish event), a stream that stalls mid-way, an SSE error
event mid-stream, a malformed JSON body, a slow reply or slow chunks.
Streaming is chosen by the request (``"stream": true``), structured output by the
request too (OpenAI ``response_format``; Anthropic forced ``tool_choice``).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Protocol = Literal["openai", "anthropic"]
Fault = Literal["hang", "cut", "truncate", "stall", "malformed_body", "stream_error"]

_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with the class methods rather than by hand."""

    text: str = "Hello from the fake model."
    status: int = 200
    fault: Fault | None = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: tuple[int, int] | None = None  # (input, output); default: word counts
    cut_after: int = 2  # text chunks sent before a cut/truncate
    error_code: str | None = None  # e.g. "content_policy_violation"
    finish_reason: str | None = None  # override "stop" / "end_turn"
    delay_s: float = 0.0  # before the response starts
    chunk_delay_s: float = 0.0  # between stream chunks
    hang_s: float = 10.0  # upper bound of a hang (released when the server stops)

    @classmethod
    def ok(cls, text: str = "Hello from the fake model.", **kw: Any) -> Reply:
        return cls(text=text, **kw)

    @classmethod
    def json(cls, obj: Any, **kw: Any) -> Reply:
        return cls(text=json.dumps(obj), **kw)

    @classmethod
    def error(
        cls, status: int, *, retry_after: float | str | None = None, code: str | None = None
    ) -> Reply:
        headers = {} if retry_after is None else {"retry-after": str(retry_after)}
        return cls(status=status, headers=headers, error_code=code)

    @classmethod
    def hang(cls, hang_s: float = 10.0) -> Reply:
        return cls(fault="hang", hang_s=hang_s)

    @classmethod
    def cut(cls, text: str, *, after: int = 2, clean: bool = False) -> Reply:
        """A stream that stops after ``after`` text chunks: abruptly (socket closed mid
        body) or, with ``clean``, as a well-formed body with no finish event."""
        return cls(text=text, fault="truncate" if clean else "cut", cut_after=after)

    @classmethod
    def stall(cls, text: str, *, after: int = 2, hang_s: float = 10.0) -> Reply:
        """A stream that goes silent (socket open) after ``after`` text chunks."""
        return cls(text=text, fault="stall", cut_after=after, hang_s=hang_s)

    @classmethod
    def stream_error(cls, text: str, *, after: int = 2) -> Reply:
        """A stream that sends an SSE error event after ``after`` text chunks."""
        return cls(text=text, fault="stream_error", cut_after=after)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(fault="malformed_body")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw: str
    body: Any  # parsed JSON, or None if it was not JSON


def chunk_text(text: str) -> list[str]:
    """Split into word-sized deltas that concatenate back to ``text`` exactly."""
    parts = re.findall(r"\s*\S+", text)
    return parts or [text]


def _words(obj: Any) -> int:
    return len(re.findall(r"\S+", json.dumps(obj))) if obj is not None else 0


class FakeLLMServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (keep-alive, chunked SSE)."""

    def __init__(
        self,
        protocol: Protocol,
        script: Iterable[Reply] = (),
        *,
        default: Reply | None = None,
        model: str | None = None,
    ) -> None:
        self.protocol = protocol
        self.model = model or ("gpt-4o-mini" if protocol == "openai" else "claude-haiku-4-5")
        self.default = default or Reply()
        self.requests: list[RecordedRequest] = []
        self._script: list[Reply] = list(script)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control -----------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What to give the SDK: OpenAI clients expect the ``/v1`` prefix in it."""
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.protocol == "openai" else root

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def raw_bodies(self) -> str:
        return "\n".join(r.raw for r in self.requests)

    def start(self) -> FakeLLMServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, req: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(req)
            return self._script.pop(0) if self._script else self.default


@contextlib.contextmanager
def fake_openai_server(script: Iterable[Reply] = (), **kw: Any) -> Iterator[FakeLLMServer]:
    with FakeLLMServer("openai", script, **kw) as srv:
        yield srv


@contextlib.contextmanager
def fake_anthropic_server(script: Iterable[Reply] = (), **kw: Any) -> Iterator[FakeLLMServer]:
    with FakeLLMServer("anthropic", script, **kw) as srv:
        yield srv


def refused_base_url(protocol: Protocol = "openai") -> str:
    """A URL on which nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = f"http://127.0.0.1:{port}"
    return root + "/v1" if protocol == "openai" else root


# --- wire formats ---------------------------------------------------------------------


def _echo(body: Any) -> str:
    """Like real providers sometimes do, quote the request back in the error message:
    adapters must never let it into their own errors."""
    messages = body.get("messages") if isinstance(body, dict) else None
    last = messages[-1].get("content") if messages and isinstance(messages[-1], dict) else ""
    return f"scripted failure for input: {last}"


def _openai_error(reply: Reply, body: Any) -> dict[str, Any]:
    return {
        "error": {
            "message": _echo(body),
            "type": "invalid_request_error" if reply.status < 500 else "server_error",
            "param": None,
            "code": reply.error_code,
        }
    }


def _anthropic_error(reply: Reply, body: Any) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
    kind = reply.error_code or kinds.get(reply.status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": _echo(body)}}


def _openai_message(reply: Reply, model: str, usage: tuple[int, int]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None},
                "finish_reason": reply.finish_reason or "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        },
    }


def _anthropic_tool_name(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice") or {}
    return choice.get("name") if choice.get("type") == "tool" else None


def _anthropic_content(reply: Reply, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    tool = _anthropic_tool_name(body)
    if tool is not None:
        try:
            data = json.loads(reply.text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            block = {"type": "tool_use", "id": "toolu_fake", "name": tool, "input": data}
            return [block], "tool_use"
    return [{"type": "text", "text": reply.text}], reply.finish_reason or "end_turn"


def _anthropic_message(reply: Reply, body: dict[str, Any], model: str, usage: tuple[int, int]):
    content, stop = _anthropic_content(reply, body)
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def _openai_events(reply: Reply, model: str, usage: tuple[int, int]) -> Iterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(obj)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    for piece in chunk_text(reply.text):
        yield chunk({"content": piece})
    yield chunk({}, reply.finish_reason or "stop")
    tail = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        },
    }
    yield f"data: {json.dumps(tail)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _anthropic_events(reply: Reply, model: str, usage: tuple[int, int]) -> Iterator[bytes]:
    def event(obj: dict[str, Any]) -> bytes:
        return f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n".encode()

    start = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": 1},
    }
    yield event({"type": "message_start", "message": start})
    yield event(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    )
    yield event({"type": "ping"})
    for piece in chunk_text(reply.text):
        delta = {"type": "text_delta", "text": piece}
        yield event({"type": "content_block_delta", "index": 0, "delta": delta})
    yield event({"type": "content_block_stop", "index": 0})
    yield event(
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.finish_reason or "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": usage[1]},
        }
    )
    yield event({"type": "message_stop"})


# --- the handler ----------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        return

    def do_GET(self) -> None:  # noqa: N802
        self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        recorded = RecordedRequest("POST", self.path, headers, raw, body)
        reply = self.fake._next(recorded)
        if reply.delay_s:
            self.fake._stop.wait(reply.delay_s)
        if reply.fault == "hang":
            self.fake._stop.wait(reply.hang_s)
            self.close_connection = True
            return
        if reply.status != 200:
            make = _openai_error if self.fake.protocol == "openai" else _anthropic_error
            err = make(reply, body)
            self._send(reply.status, err, reply.headers)
            return
        if reply.fault == "malformed_body":
            self._send_raw(200, b'{"id": "x", "choices": [{"mess', "application/json")
            return
        body = body if isinstance(body, dict) else {}
        usage = reply.usage or (_words(body.get("messages")), len(chunk_text(reply.text)))
        if body.get("stream"):
            self._stream(reply, usage)
            return
        if self.fake.protocol == "openai":
            self._send(200, _openai_message(reply, self.fake.model, usage), reply.headers)
        else:
            msg = _anthropic_message(reply, body, self.fake.model, usage)
            self._send(200, msg, reply.headers)

    # --- writers -----------------------------------------------------------------
    def _send(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(obj).encode(), "application/json", headers)

    def _send_raw(
        self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        lines = [
            f"HTTP/1.1 {status} {_STATUS_TEXT.get(status, 'Status')}",
            f"Content-Type: {ctype}",
            f"Content-Length: {len(data)}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)

    def _error_event(self) -> bytes:
        if self.fake.protocol == "openai":
            err = {"error": {"message": "scripted failure", "type": "server_error", "code": None}}
            return f"data: {json.dumps(err)}\n\n".encode()
        err = {"type": "error", "error": {"type": "overloaded_error", "message": "scripted"}}
        return f"event: error\ndata: {json.dumps(err)}\n\n".encode()

    def _stream(self, reply: Reply, usage: tuple[int, int]) -> None:
        if self.fake.protocol == "openai":
            events = list(_openai_events(reply, self.fake.model, usage))
            first_text = 1  # the role chunk comes first
        else:
            events = list(_anthropic_events(reply, self.fake.model, usage))
            first_text = 3  # message_start, content_block_start, ping
        if reply.fault in ("cut", "truncate", "stall", "stream_error"):
            events = events[: first_text + reply.cut_after]
        if reply.fault == "stream_error":
            events.append(self._error_event())
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked"
        head += "".join(f"\r\n{k}: {v}" for k, v in reply.headers.items())
        self.wfile.write((head + "\r\n\r\n").encode())
        for ev in events:
            if reply.chunk_delay_s:
                self.fake._stop.wait(reply.chunk_delay_s)
            self.wfile.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
        if reply.fault == "stall":
            self.fake._stop.wait(reply.hang_s)
            self.close_connection = True
            return
        if reply.fault == "cut":
            # Abrupt: no terminating chunk, the socket just closes.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")
