"""The pydantic views the application core returns (the HTTP layer serves them as is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class QuestionOut(BaseModel):
    question: str
    type: str
    answer: str | None = Field(default=None, description="withheld from students")
    evidence: str | None = Field(default=None, description="withheld from students")
    skill: str
    level: str = Field("literal", description="literal or inference")
    choices: list[str] = Field(default_factory=list, description="multiple choice options")


class MessageOut(BaseModel):
    session_id: str
    seq: int
    reply: str
    blocked: bool = False
    block_reason: str | None = None
    move: str | None = None
    intervention: dict[str, Any] | None = None
    grade_result: dict[str, Any] | None = None
    current_question: QuestionOut | None = None
    provider: str | None = None
    model: str | None = None
    provenance: dict[str, Any] = Field(
        default_factory=dict, description="Prompt and model versions (`readloom models trace`)"
    )
    created_at: datetime


class SkillMastery(BaseModel):
    skill: str
    p_mastery: float = Field(ge=0, le=1)
    attempts: int = 0
    mastered: bool = False


class RecommendationOut(BaseModel):
    student_id: str
    kind: Literal["continue", "new", "review"]
    skill_id: str
    skill_name: str
    strand: str
    mastery: float | None = Field(description="Current P(mastered); null if never practised")
    passage_id: str | None = None
    passage_title: str | None = None
    passage_grade: int | None = None
    reason: str = Field(description="One line for the teacher")
    alternatives: list[str] = Field(default_factory=list)
    provenance: dict[str, Any] = Field(
        default_factory=dict, description="Model and policy versions behind the choice"
    )


class AlertOut(BaseModel):
    id: str
    student_id: str | None
    session_id: str
    kind: str = Field(description="e.g. self_harm, abuse, repeated_frustration")
    severity: Literal["low", "medium", "high", "critical"]
    confidence: float
    repeats: int = 0
    status: Literal["open", "review", "acknowledged"]
    created_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
