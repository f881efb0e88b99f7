"""Drift: each kind of shift is flagged within one window; windows drawn from the
reference distribution never alarm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from readloom.cli import main
from readloom.mlops import monitor as mon

WORDS = "the fox ran to the river because it was thirsty and then it slept".split()
CYRILLIC = "лиса побежала к реке потому что хотела пить".split()


def events(rng: np.random.Generator, n: int = 400, **shift: float) -> list[dict]:
    out = []
    for _ in range(n):
        words = max(1, int(rng.normal(12 * shift.get("length", 1.0), 3)))
        vocab = CYRILLIC if rng.random() < shift.get("cyrillic", 0.02) else WORDS
        text = " ".join(rng.choice(vocab, words))
        if rng.random() < shift.get("pii", 0.05):
            text += " my name is <PERSON_1>"
        blocked = rng.random() < shift.get("injection", 0.01)
        out.append({
            "kind": "message", "text": text, "blocked": blocked,
            "block_reason": "injection" if blocked else None,
            "reply": " ".join(["word"] * max(1, int(rng.normal(25, 5)))),
            "move": str(rng.choice(["hint", "affirm", "question"], p=[0.5, 0.3, 0.2])),
            "provider": "offline" if rng.random() < shift.get("offline", 0.1) else "openai",
        })  # fmt: skip
        out.append({"kind": "passage", "grade": float(rng.normal(4 + shift.get("grade", 0), 1))})
        mastery = rng.random()
        predicted = 0.2 + 0.7 * mastery
        observed = predicted + shift.get("miscalibration", 0.0)
        out.append({"kind": "prediction", "predicted": predicted,
                    "correct": int(rng.random() < np.clip(observed, 0, 1))})  # fmt: skip
    return out


def _report(ref, cur) -> dict:
    return mon.compare(mon.Window().extend(ref), mon.Window().extend(cur))


def test_no_false_alarm_on_windows_from_the_reference_distribution() -> None:
    rng = np.random.default_rng(1)
    reference = events(rng, 2000)
    alarms = [_report(reference, events(rng))["drifted"] for _ in range(20)]
    assert alarms == [[]] * 20


@pytest.mark.parametrize(
    ("shift", "feature"),
    [
        ({"length": 1.6}, "message_words"),
        ({"cyrillic": 0.4}, "message_script"),
        ({"pii": 0.15}, "pii_rate"),
        ({"injection": 0.08}, "injection_rate"),
        ({"offline": 0.5}, "offline_fallback_rate"),
        ({"grade": 1.5}, "passage_grade"),
        ({"miscalibration": -0.25}, "bkt_calibration"),
    ],
)
def test_each_shift_is_flagged_within_one_window(shift: dict, feature: str) -> None:
    rng = np.random.default_rng(2)
    report = _report(events(rng, 2000), events(rng, 400, **shift))
    assert feature in report["drifted"], report["drifted"]


def test_script_and_language_detection() -> None:
    assert mon.script_of("лиса побежала") == "CYRILLIC"
    assert mon.script_of("The fox <PERSON_1>") == "LATIN"
    assert mon.language_of("the fox ran because it was hungry") == "en"
    assert mon.language_of("le renard a couru") == "other"


def _jsonl(path: Path, items) -> Path:
    path.write_text("\n".join(json.dumps(e) for e in items) + "\n", encoding="utf-8")
    return path


def test_cli_monitor_exits_nonzero_on_drift_and_zero_without(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref = _jsonl(tmp_path / "ref.jsonl", events(rng, 1000))
    same = _jsonl(tmp_path / "same.jsonl", events(rng, 400))
    moved = _jsonl(tmp_path / "moved.jsonl", events(rng, 400, length=2.0))
    args = ["monitor", "--reference", str(ref), "--format", "json", "--current"]
    ok = CliRunner().invoke(main, [*args, str(same)])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, [*args, str(moved)])
    assert bad.exit_code == 1
    assert "message_words" in json.loads(bad.stdout)["drifted"]


def test_drift_is_exported_as_an_otel_gauge() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from readloom.observability import tracing
    from readloom.observability.instruments import publish_drift

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    tracing.bind(None, provider)
    try:
        rng = np.random.default_rng(4)
        publish_drift(_report(events(rng, 1000), events(rng, 400, pii=0.2))["features"])
        data = reader.get_metrics_data()
        points = [
            (dict(p.attributes), p.value)
            for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name == "readloom.drift" for p in m.data.data_points
        ]  # fmt: skip
        assert ({"feature": "pii_rate", "statistic": "drifted"}, 1.0) in points
        assert ({"feature": "message_words", "statistic": "drifted"}, 0.0) in points
    finally:
        tracing.bind(None, None)
        provider.shutdown()
