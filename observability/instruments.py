"""Every readloom metric, created once per meter.

Labels are codes and names only (tenant, provider, model, node, guard, reason, kind),
never a session or student id: ids would leak who was tutored and explode cardinality.
Durations are in seconds, as the OpenTelemetry semantic conventions ask.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

# Seconds: a guard check is milliseconds, a model call or a whole turn is seconds.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0,
)  # fmt: skip
TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

# Routers register their breakers so one observable gauge reports them all; weak keys,
# so a router that is gone stops being reported.
_BREAKERS: weakref.WeakKeyDictionary[object, Mapping[str, Any]] = weakref.WeakKeyDictionary()


def watch_breakers(owner: object, breakers: Mapping[str, Any]) -> None:
    """Report ``breakers`` (``{provider: breaker}``, each with a ``state``) while ``owner``
    lives."""
    _BREAKERS[owner] = breakers


def _breaker_states(_: CallbackOptions) -> Iterable[Observation]:
    for breakers in list(_BREAKERS.values()):
        for provider, breaker in breakers.items():
            yield Observation(BREAKER_STATES.get(breaker.state, -1), {"provider": provider})


# The latest drift statistics (``mlops/monitor.py``), one gauge for all features.
_DRIFT: dict[tuple[str, str], float] = {}


def publish_drift(features: Iterable[Mapping[str, Any]]) -> None:
    """Report a monitoring run: PSI, KS D, rates, ECE and a 0/1 ``drifted`` per feature."""
    for f in features:
        for stat in ("psi", "ks_d", "reference", "current"):
            if f.get(stat) is not None:
                _DRIFT[(str(f["feature"]), stat)] = float(f[stat])
        _DRIFT[(str(f["feature"]), "drifted")] = 1.0 if f.get("drifted") else 0.0


def _drift_values(_: CallbackOptions) -> Iterable[Observation]:
    for (feature, stat), value in list(_DRIFT.items()):
        yield Observation(value, {"feature": feature, "statistic": stat})


class Instruments:
    def __init__(self, meter: Meter) -> None:
        def hist(name: str, unit: str, desc: str, buckets: tuple = LATENCY_BUCKETS) -> Any:
            return meter.create_histogram(
                name, unit=unit, description=desc, explicit_bucket_boundaries_advisory=buckets
            )

        # latency
        self.turn_duration = hist(
            "readloom.turn.duration", "s", "One tutoring turn or question request, end to end"
        )
        self.node_duration = hist("readloom.node.duration", "s", "One graph node")
        self.tool_duration = hist("readloom.tool.duration", "s", "One tool or guardrail call")
        self.llm_attempt_duration = hist(
            "gen_ai.client.operation.duration", "s", "One attempt at one model provider"
        )
        # tokens and money
        self.token_usage = hist(
            "gen_ai.client.token.usage", "{token}", "Tokens per model call", TOKEN_BUCKETS
        )
        self.tokens = meter.create_counter(
            "readloom.llm.tokens", unit="{token}", description="Tokens by tenant and provider"
        )
        self.cost = meter.create_counter(
            "readloom.llm.cost", unit="USD", description="Model spend by tenant and provider"
        )
        self.llm_calls = meter.create_counter(
            "readloom.llm.calls", unit="{call}", description="Gate calls, cached or not"
        )
        self.cache_lookups = meter.create_counter(
            "readloom.llm.cache.lookups", unit="{lookup}", description="Response cache hits/misses"
        )
        # resilience
        self.failovers = meter.create_counter(
            "readloom.llm.failovers", unit="{failover}", description="Providers left for the next"
        )
        meter.create_observable_gauge(
            "readloom.llm.breaker.state",
            callbacks=[_breaker_states],
            description="Circuit breaker per provider: 0 closed, 1 half-open, 2 open",
        )
        meter.create_observable_gauge(
            "readloom.drift",
            callbacks=[_drift_values],
            description="Latest drift statistics per monitored feature (readloom monitor)",
        )
        # guardrails and pedagogy
        self.guard_blocks = meter.create_counter(
            "readloom.guardrail.blocks", unit="{block}", description="Requests denied by a guard"
        )
        self.guard_entities = meter.create_counter(
            "readloom.guardrail.entities", unit="{entity}", description="PII entities by type"
        )
        self.guard_alerts = meter.create_counter(
            "readloom.guardrail.alerts", unit="{alert}", description="Teacher alerts queued"
        )
        self.interventions = meter.create_counter(
            "readloom.interventions", unit="{intervention}", description="Interventions by kind"
        )
        self.verdicts = meter.create_counter(
            "readloom.evaluator.verdicts", unit="{verdict}", description="Evaluator verdicts"
        )
