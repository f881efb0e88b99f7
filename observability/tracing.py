"""The tracer and meter every readloom span and instrument comes from, and the turn scope.

Instrumentation never holds a provider of its own: it asks ``tracer()`` / ``instruments()``
here, which ``telemetry.configure_telemetry`` (or a test or benchmark, through ``bind``)
points at real SDK providers. Until then both fall back to the OpenTelemetry globals,
which are no-ops unless something configured them, so instrumented code costs almost
nothing when telemetry is off.

The turn scope (session id, tenant, mode) lives in a ``ContextVar`` set by the node
wrappers; every readloom span and log line picks it up from there. It is deliberately
not OpenTelemetry baggage: baggage travels in HTTP headers, and a session id has no
business reaching a model provider.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from readloom.observability.instruments import Instruments

SCOPE_NAME = "readloom"
SESSION_ID = "session.id"
TENANT = "readloom.tenant"
MODE = "readloom.mode"

_CODE = re.compile(r"^[A-Za-z0-9_.:@/<>\-]{1,64}$")
_CONTACT = re.compile(r"@[\w-]+\.\w|\d{3}[-. ]?\d{3}[-. ]?\d{4}")  # an email or a phone number


def code(value: object, *, default: str = "other") -> str:
    """``value`` if it looks like a machine code (a reason, a kind, a guard name), else
    ``default``: no free text reaches a span attribute or a metric label by accident, and
    label cardinality stays bounded."""
    text = value if isinstance(value, str) else str(value)
    return text if _CODE.match(text) and not _CONTACT.search(text) else default


def identifier(value: object) -> str:
    """A pseudonymous id (session ids are): kept as is unless it looks like contact data."""
    text = value if isinstance(value, str) else str(value)
    ok = _CODE.match(text) and not re.search(r"@[\w-]+\.\w", text)
    return text if ok else "withheld"


def codes(values: object) -> list[str]:
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        return [code(values)]
    return [code(v) for v in values]  # type: ignore[union-attr]


@dataclass(frozen=True)
class TurnScope:
    session_id: str | None = None
    tenant: str | None = None
    mode: str | None = None

    def attributes(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.session_id:
            out[SESSION_ID] = identifier(self.session_id)
        if self.tenant:
            out[TENANT] = code(self.tenant)
        if self.mode:
            out[MODE] = code(self.mode)
        return out


_SCOPE: ContextVar[TurnScope | None] = ContextVar("readloom_turn_scope", default=None)


def current_scope() -> TurnScope | None:
    return _SCOPE.get()


@contextmanager
def turn_scope(scope: TurnScope) -> Iterator[TurnScope]:
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


# --- providers -------------------------------------------------------------------------


class _Bound:
    tracer: trace.Tracer | None = None
    instruments: Instruments | None = None


_INSTRUMENTS: weakref.WeakKeyDictionary[Any, Instruments] = weakref.WeakKeyDictionary()


def bind(
    tracer_provider: trace.TracerProvider | None,
    meter_provider: metrics.MeterProvider | None,
) -> None:
    """Point readloom's instrumentation at these providers (``None``: the globals)."""
    from readloom import __version__
    from readloom.observability.instruments import Instruments

    tp = tracer_provider or trace.get_tracer_provider()
    mp = meter_provider or metrics.get_meter_provider()
    _Bound.tracer = tp.get_tracer(SCOPE_NAME, __version__)
    if mp not in _INSTRUMENTS:  # instruments are created once per meter provider
        _INSTRUMENTS[mp] = Instruments(mp.get_meter(SCOPE_NAME, __version__))
    _Bound.instruments = _INSTRUMENTS[mp]


def tracer() -> trace.Tracer:
    if _Bound.tracer is None:
        _Bound.tracer = trace.get_tracer(SCOPE_NAME)
    return _Bound.tracer


def instruments() -> Instruments:
    if _Bound.instruments is None:
        from readloom.observability.instruments import Instruments

        _Bound.instruments = Instruments(metrics.get_meter(SCOPE_NAME))
    return _Bound.instruments


# --- spans -----------------------------------------------------------------------------


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
) -> Iterator[Span]:
    """A current span carrying the turn scope. An exception marks it failed with the
    exception's *type* only: messages and stack traces can quote the input (a pydantic
    ``ValidationError`` does), so they are never recorded."""
    attrs = dict(attributes or {})
    scope = _SCOPE.get()
    if scope is not None:
        attrs.update(scope.attributes())
    with tracer().start_as_current_span(
        name,
        kind=kind,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            mark_failed(current, exc)
            raise


def mark_failed(current: Span, exc: BaseException, *, kind: str | None = None) -> None:
    """``error.type`` is the most specific kind known: the first one set is kept."""
    if not current.is_recording():
        return
    if kind is not None or "error.type" not in (getattr(current, "attributes", None) or {}):
        current.set_attribute("error.type", kind or type(exc).__name__)
    current.set_status(Status(StatusCode.ERROR))


def add_event(name: str, attributes: Mapping[str, Any]) -> None:
    """An event on the current span, if it records."""
    current = trace.get_current_span()
    if current.is_recording():
        current.add_event(name, dict(attributes))
