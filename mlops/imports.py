"""Importing graded responses from xAPI statements (a JSON array or JSON Lines), row by
row: an ``answered`` statement about a skill with ``result.success`` is one response;
statements with other verbs are counted and skipped; malformed ones are bad rows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from readloom.errors import InputError
from readloom.mlops.data_quality import DEFAULT_MAX_BAD_SHARE, RowChecker, pydantic_reason
from readloom.tools.mastery_data import ResponseLog, from_records

ANSWERED = "http://adlnet.gov/expapi/verbs/answered"


class _Account(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class _Actor(BaseModel):
    account: _Account


class _Verb(BaseModel):
    id: str = Field(pattern=r"^https?://")


class _Object(BaseModel):
    id: str = Field(pattern=r"^https?://")


class _Result(BaseModel):
    success: bool


class XapiResponse(BaseModel):
    """The parts of an xAPI 1.0.3 statement a response needs."""

    model_config = ConfigDict(extra="ignore")
    actor: _Actor
    verb: _Verb
    object: _Object
    result: _Result | None = None
    timestamp: datetime


def _skill(object_id: str) -> str | None:
    head, sep, tail = object_id.rstrip("/").rpartition("/skills/")
    return tail if sep and tail and "/" not in tail else None


def _statements(path: Path) -> list[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path.name}: {type(exc).__name__}") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name}: not valid JSON (line {exc.lineno})") from None
        return [(i + 1, item) for i, item in enumerate(items)]  # "line" = statement number
    out: list[tuple[int, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                out.append((lineno, json.loads(line)))
            except json.JSONDecodeError:
                out.append((lineno, _BadJson))
    return out


class _BadJson:
    pass


def load_xapi(path: Path | str, *, max_bad_share: float = DEFAULT_MAX_BAD_SHARE) -> ResponseLog:
    path = Path(path)
    checker = RowChecker(path.name, "statement", max_bad_share=max_bad_share)
    users: list[str] = []
    skills: list[str] = []
    correct: list[int] = []
    order: list[float] = []
    skipped = 0
    for line, raw in _statements(path):
        if raw is _BadJson:
            checker.bad(line, "not valid JSON")
            continue
        try:
            st = XapiResponse.model_validate(raw)
        except ValidationError as exc:
            checker.bad(line, pydantic_reason(exc))
            continue
        if st.verb.id != ANSWERED:
            skipped += 1
            checker.good()
            continue
        skill = _skill(st.object.id)
        if skill is None:
            checker.bad(line, "object.id: an answered statement must name a /skills/ activity")
            continue
        if st.result is None:
            checker.bad(line, "result.success: required on an answered statement")
            continue
        checker.good()
        users.append(st.actor.account.name)
        skills.append(skill)
        correct.append(int(st.result.success))
        order.append(st.timestamp.timestamp())
    report = checker.finish()
    if not correct:
        raise InputError(f"{path.name}: no answered statements ({skipped} of other verbs)")
    data = from_records(users, skills, correct, order)
    return replace(data, quality=report)
