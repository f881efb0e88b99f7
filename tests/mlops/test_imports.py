"""Data quality on every import: bad rows reported by line and reason, never silently
dropped; too many bad rows fail the import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from readloom.errors import InputError
from readloom.mlops.data_quality import DataQualityError
from readloom.mlops.imports import load_xapi
from readloom.retrieval.passages import load_paths
from readloom.tools.mastery_data import load_responses

HOME = "https://lms.example.org"
STORY = "The fox ran to the river because it was thirsty. It drank and then it slept. " * 3


def _stmt(i: int, *, success: bool = True, verb: str = "answered", skill: str = "cause_effect"):
    return {
        "actor": {"account": {"homePage": HOME, "name": f"s{i % 7}"}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"id": f"{HOME}/skills/{skill}"},
        "result": {"success": success},
        "timestamp": f"2026-11-0{1 + i % 9}T10:{i % 60:02d}:00+00:00",
    }


def test_xapi_answered_statements_become_responses_and_bad_ones_are_reported(
    tmp_path: Path,
) -> None:
    lines = [json.dumps(_stmt(i, success=i % 3 > 0)) for i in range(40)]
    lines.append(json.dumps(_stmt(99, verb="launched")))  # another verb: counted, skipped
    lines[5] = "{not json"
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n")
    data = load_xapi(path, max_bad_share=0.05)
    assert len(data) == 39 and set(data.skills) == {"cause_effect"}
    assert data.quality.bad == 1 and data.quality.bad_rows[0].line == 6
    broken = [dict(_stmt(i), result=None) for i in range(3)] + [_stmt(i) for i in range(10)]
    path.write_text(json.dumps(broken))
    with pytest.raises(DataQualityError, match=r"s.jsonl:1: result.success") as err:
        load_xapi(path)
    assert err.value.report.bad == 3


def test_mastery_csv_reports_bad_rows_and_keeps_good_ones(tmp_path: Path) -> None:
    rows = [f"u{i},cause_effect,{i % 2},{i}" for i in range(40)]
    rows[10] = "u10,cause_effect,maybe,10"
    path = tmp_path / "r.csv"
    path.write_text("user_id,skill_name,correct,order_id\n" + "\n".join(rows) + "\n")
    data = load_responses(path)
    assert len(data) == 39
    assert [(b.line, b.reason) for b in data.quality.bad_rows] == [(12, "'correct' must be 0 or 1")]
    rows[20] = "u20,,1,20"
    rows[30] = "u30,cause_effect,1,soon"
    path.write_text("user_id,skill_name,correct,order_id\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"3 of 40 response rows are bad") as err:
        load_responses(path)
    assert "r.csv:22: empty 'skill_name'" in err.value.message
    assert "r.csv:32: 'order_id' must be a number" in err.value.message


def test_passage_jsonl_lists_rejected_rows(tmp_path: Path) -> None:
    good = [{"passage_id": f"p{i}", "title": f"P{i}", "text": STORY, "grade": 3} for i in range(25)]
    lines = [json.dumps(g) for g in good] + [json.dumps({"text": STORY, "grade": 40})]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reports: list = []
    passages = load_paths([path], reports=reports)
    assert len(passages) == 25
    (report,) = reports
    assert (
        report.bad == 1 and report.bad_rows[0].line == 26 and "grade" in report.bad_rows[0].reason
    )
