"""A JSON-lines passage upload is checked line by line: a few bad lines are reported and
left out, too many fail the upload with every bad line named."""

from __future__ import annotations

import json
import uuid

from apitest_support import World, assert_problem

STORY = (
    "Nia planted a bean in a paper cup. Every morning she gave it a little water. "
    "On the fifth day a green shoot pushed up through the soil, and Nia cheered."
)


def _lines(n: int, prefix: str) -> list[str]:
    return [json.dumps({"passage_id": f"{prefix}-{i}", "title": f"Bean {i}", "text": STORY,
                        "grade": 2, "genre": "fiction"}) for i in range(n)]  # fmt: skip


def test_jsonl_upload_reports_bad_lines_and_fails_above_the_share(world: World) -> None:
    prefix = uuid.uuid4().hex[:8]
    lines = _lines(24, prefix)
    lines.insert(
        2, json.dumps({"passage_id": f"{prefix}-x", "title": "X", "text": STORY, "grade": 40})
    )
    r = world.partner.post("/v1/passages", content="\n".join(lines).encode(),
                           headers={"content-type": "application/x-ndjson"})  # fmt: skip
    assert r.status_code == 201, r.text
    out = r.json()
    assert len(out["passage_ids"]) == 24
    assert list(out["rejected_rows"]) == ["line 3"] and "grade" in out["rejected_rows"]["line 3"]
    worse = _lines(5, uuid.uuid4().hex[:8]) + ["{nope", json.dumps({"text": STORY})]
    r = world.partner.post("/v1/passages", content="\n".join(worse).encode(),
                           headers={"content-type": "application/x-ndjson"})  # fmt: skip
    detail = assert_problem(r, 422)["detail"]
    assert "line 6: invalid" in detail or "line 6:" in detail
    assert "line 7:" in detail
