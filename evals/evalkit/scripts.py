"""The tutor suite's scripted students, read from ``evals/datasets/tutor_scripts.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Move = Literal["affirm", "hint", "probe", "redirect", "encourage", "alternate_explanation", "worked_explanation", "ask_to_choose", "answer_question",
               "ask_question", "safety"]  # fmt: skip
Kind = Literal["none", "escalate_hint", "alternate_explanation", "teacher_alert"]


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blocked: bool | None = None
    asked_question: bool | None = None
    correct: bool | None = None
    move: list[Move] | None = None
    intervention: list[Kind] | None = None
    alert: bool | None = None
    hint_up: bool | None = None


class ExpectEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_raised: bool | None = None
    alternate_used: bool | None = None


class ScriptTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    say: str
    expect: Expect = Field(default_factory=Expect)


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    description: str = ""
    passages: list[str] | None = None
    turns: list[ScriptTurn]
    expect_end: ExpectEnd = Field(default_factory=ExpectEnd)


class ScriptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    passages: list[str] | Literal["all"] = "all"
    wrong_answers: list[str] = Field(min_length=1)
    scripts: list[Script] = Field(min_length=1)


def load_scripts(path: Path) -> ScriptFile:
    return ScriptFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
