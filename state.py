"""The typed state that flows through the graph, and the models of each LLM decision.

State holds only redacted text (``<PERSON_1>`` …) and ids. The raw student message
arrives through the run's context (``TurnContext``), which is never checkpointed; the
pseudonym vault lives outside the graph entirely.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from readloom.guardrails.base import Role

Mode = Literal["tutor", "questions"]
QuestionType = Literal[
    # the types teachers ask for: FairytaleQA's seven narrative elements, vocabulary, main
    # idea and theme, and the informational-text types
    "character", "setting", "action", "feeling", "causal_relationship", "outcome_resolution",
    "prediction", "vocabulary", "main_idea", "theme", "key_detail", "cause_effect", "sequence",
    "text_structure", "author_purpose",
    # older names, still accepted from callers: who/what/where/when/why
    "who", "what", "where", "when", "why",
]  # fmt: skip
QuestionLevel = Literal["literal", "inference"]
Intent = Literal[
    "answer_attempt", "help_request", "answer_demand", "off_topic", "frustration",
    "greeting", "question_about_text", "generate_questions", "guess_list", "word_question",
]  # fmt: skip
Move = Literal[
    "affirm", "probe", "hint", "alternate_explanation", "redirect", "encourage", "ask_question",
    "ask_to_choose", "answer_question", "worked_explanation",
]  # fmt: skip
Tier = Literal["default", "cheap", "offline"]


# --- domain models -------------------------------------------------------------------


class Question(BaseModel):
    question: str
    type: QuestionType
    answer: str
    evidence: str = Field(description="A sentence copied verbatim from the passage")
    skill: str = Field(description="Skill id in the prerequisite graph")
    level: QuestionLevel = Field(
        "literal", description="literal: stated in the evidence; inference: the reader works it out"
    )
    choices: list[str] = Field(
        default_factory=list,
        description="Multiple choice only: the answer and three distractors, in display order",
    )


class QuestionSet(BaseModel):
    questions: list[Question]


class TutorPolicy(BaseModel):
    """How the tutor teaches this learner: the knobs an experiment's arm may turn (its
    ``config``). Unset knobs keep the tutor's defaults; an unknown knob is an error, so a
    typo'd arm cannot silently run as the control."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str | None = Field(
        None, pattern=r"^(tutor_reply|explain)@v[1-9][0-9]*$",
        description="A prompt version for the tutor's replies, e.g. tutor_reply@v1",
    )  # fmt: skip
    provider: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="Tutor replies from this provider first (the offline tier stays the net)",
    )  # fmt: skip
    hint_ladder: int | None = Field(
        None, ge=1, le=4,
        description="Rungs from a reading strategy to the blanked evidence sentence (default 4)",
    )  # fmt: skip
    tries_before_worked: int | None = Field(
        None, ge=1, le=6, description="Unsuccessful tries before the worked explanation"
    )
    question_order: Literal["frontier", "passage"] | None = Field(
        None, description="frontier: least-mastered skill first (default); passage: text order"
    )

    def rung(self, hint_level: int, top: int = 3) -> int:
        """The hint rung shown for the grader's escalation count ``hint_level`` (0..top):
        a shorter ladder climbs in bigger steps and reaches the top sooner."""
        if self.hint_ladder == 1:
            return top
        if self.hint_ladder is None or hint_level <= 0:
            return hint_level
        step = top / (self.hint_ladder - 1)
        return min(top, round(hint_level * step))


class Plan(BaseModel):
    """The planner's decision: what the student (or teacher) is doing and what to do next.
    ``policy`` is the learner's experiment arms, merged; ``arms`` names them
    (experiment id -> arm), so every turn records what it ran under."""

    intent: Intent
    move: Move
    tools: list[Literal["retriever", "prerequisites", "mastery", "recommender"]]
    tier: Tier = "default"
    rationale: str = ""
    policy: TutorPolicy = Field(default_factory=TutorPolicy)
    arms: dict[str, str] = Field(default_factory=dict)


class Draft(BaseModel):
    text: str
    move: str | None = None
    questions: list[Question] = Field(default_factory=list)
    provenance: dict = Field(default_factory=dict)


class Verdict(BaseModel):
    action: Literal["accept", "revise", "reject"]
    problems: list[str] = Field(default_factory=list)  # codes, e.g. "answer_leak"


class Turn(BaseModel):
    role: Literal["student", "tutor", "teacher"]
    text: str  # redacted
    move: str | None = None


class Grade(BaseModel):
    """The grader's judgement of a student's answer to the current question."""

    correct: bool
    score: float
    skill: str
    verdict: Literal["correct", "partially_correct", "incorrect", "not_an_answer"] | None = None
    reason: str | None = None  # a code ("alias", "guess_list", …) or the model judge's reason
    confidence: float | None = None
    assisted: bool = False  # the tutor modelled the answer after repeated tries


class Intervention(BaseModel):
    kind: Literal["none", "escalate_hint", "alternate_explanation", "teacher_alert"]
    reason: str = ""
    hint_level: int = 0


# --- graph state ---------------------------------------------------------------------


class TurnInput(TypedDict, total=False):
    """What a caller may send into a run (the raw message goes in ``TurnContext``)."""

    mode: Mode
    session_id: str
    passage_id: str
    grade: int
    count: int
    types: list[QuestionType]
    choices: bool  # multiple choice: three distractors per question
    opening: bool  # the tutor opens the session: greet and ask, before any message


class TurnState(TypedDict, total=False):
    mode: Mode
    session_id: str
    tenant: str  # the tenant that owns the session, fixed on its first allowed turn
    passage_id: str
    grade: int
    count: int
    types: list[QuestionType]
    choices: bool
    opening: bool
    # per turn (overwritten each turn)
    message: str  # redacted student/teacher message
    blocked: bool
    block_reason: str | None
    plan: Plan | None
    spans: list[dict]  # retrieved Span dicts
    draft: Draft | None
    verdict: Verdict | None
    revisions: int
    grade_result: Grade | None
    intervention: Intervention | None
    reply: str  # redacted final reply
    questions: list[Question]
    provenance: dict
    # across turns (accumulated by the checkpointer)
    history: Annotated[list[Turn], operator.add]
    current_question: Question | None
    asked: Annotated[list[str], operator.add]  # questions already put to the student
    hint_level: int
    attempts: int  # wrong attempts on current_question
    tries: int  # unsuccessful turns on current_question (wrong, guesses, idk, off-topic…)
    alternate_used: bool
    assisted_items: int  # questions the tutor had to model (worked explanation) this session


@dataclass(frozen=True)
class TurnContext:
    """Per-run facts that are never checkpointed: who is asking, and their raw text."""

    raw_message: str = ""
    tenant: str = "default"
    role: Role = "student"
    student_id: str = "anonymous"
    policy: TutorPolicy = field(default_factory=TutorPolicy)
    arms: dict[str, str] = field(default_factory=dict)  # experiment id -> arm
