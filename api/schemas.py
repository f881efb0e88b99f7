"""Request (``XIn``) and response (``XOut``) bodies; separate types, so nothing internal
(key hashes, webhook secrets after creation, pseudonym maps) can leak into a response."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    UrlConstraints,
    model_validator,
)

from readloom.guardrails.base import Role  # the one Role literal
from readloom.retrieval.models import Genre
from readloom.service.outbox import EVENT_TYPES
from readloom.service.views import (  # re-exported: the core's views
    AlertOut as AlertOut,
)
from readloom.service.views import (
    MessageOut as MessageOut,
)
from readloom.service.views import (
    QuestionOut as QuestionOut,
)
from readloom.service.views import (
    RecommendationOut as RecommendationOut,
)
from readloom.service.views import (
    SkillMastery as SkillMastery,
)
from readloom.state import QuestionType

Pseudonym = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
    Field(
        description="The partner's pseudonymous id (letters, digits, . _ : -), never a name "
        "or an e-mail address",
        examples=["stu-4821"],
    ),
]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")]
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
GradeLevel = Annotated[int, Field(ge=1, le=12, description="School grade, 1-12")]


def _fits(limit: int) -> Any:
    """A URL whose normalised form (e.g. a trailing slash added) still fits its column."""

    def check(url: HttpUrl) -> HttpUrl:
        if len(str(url)) > limit:
            raise ValueError(f"URL should have at most {limit} characters")
        return url

    return check


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain text, not only spaces or line breaks")
    return value


def _nul_free(value: Any, where: str = "body") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where}: NUL bytes are not allowed")
    elif isinstance(value, dict):
        for k, v in value.items():
            _nul_free(k, where)
            _nul_free(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _nul_free(v, f"{where}.{i}")


class In(BaseModel):
    """Every request body: unknown fields refused, strict types (``true`` is not a grade,
    ``"5"`` is not a count), and no NUL byte in any string."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        _nul_free(data)
        return data


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


# --- keys and tenant -------------------------------------------------------------------


class KeyIn(In):
    role: Role
    subject: Pseudonym | None = Field(None, description="Required for student and teacher keys")


class KeyOut(BaseModel):
    id: str
    prefix: str
    role: Role
    subject: str | None
    created_at: datetime
    revoked: bool


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The secret key: shown once, store it now")


class KeyList(BaseModel):
    items: list[KeyOut]


class TenantIn(In):
    home_page: Annotated[HttpUrl, UrlConstraints(max_length=500), AfterValidator(_fits(500))] = (
        Field(description="xAPI account homePage of the tenant's LMS")
    )


class TenantOut(BaseModel):
    id: str
    home_page: str
    created_at: datetime


# --- rosters ---------------------------------------------------------------------------


class ClassIn(In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    teacher_ids: list[Pseudonym] = Field(default_factory=list, max_length=100)
    student_ids: list[Pseudonym] = Field(default_factory=list, max_length=1000)


class ClassOut(BaseModel):
    id: str
    name: str
    teacher_ids: list[str]
    student_ids: list[str]
    created_at: datetime


class ClassList(BaseModel):
    items: list[ClassOut]


# --- tutoring sessions -----------------------------------------------------------------


class SessionIn(In):
    student_id: Pseudonym | None = Field(
        None, description="Defaults to the calling student's own id"
    )
    grade: GradeLevel
    passage_id: Identifier
    open: bool = Field(
        False,
        description="The tutor opens the session: it greets and asks the first question, "
        "returned as `opening` (recorded as the session's first message)",
    )


class SessionOut(BaseModel):
    id: str
    student_id: str
    grade: int
    passage_id: str | None
    created_at: datetime
    message_count: int = 0
    opening: MessageOut | None = None  # only when the session was created with open=true


class SessionList(BaseModel):
    items: list[SessionOut]


class MessageIn(In):
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="The student's message (redacted before any model sees it)"
    )


class HistoryItem(BaseModel):
    seq: int
    text: str
    reply: str
    move: str | None = None
    blocked: bool = False
    created_at: datetime


class HistoryOut(BaseModel):
    session_id: str
    items: list[HistoryItem]


# --- questions -------------------------------------------------------------------------


class QuestionsIn(In):
    passage_id: Identifier | None = None
    text: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=20_000), AfterValidator(_not_blank)
        ]
        | None
    ) = Field(None, description="Passage text to generate from (instead of a passage_id)")
    title: Annotated[str, StringConstraints(max_length=200)] | None = None
    count: int = Field(5, ge=1, le=50)
    grade: GradeLevel | None = None
    types: list[QuestionType] | None = Field(None, max_length=20)
    choices: bool = Field(False, description="multiple choice: three distractors per question")


class QuestionsOut(BaseModel):
    passage_id: str
    questions: list[QuestionOut]
    provenance: dict[str, Any] = Field(default_factory=dict)


class QuestionJobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    count: int
    created_at: datetime
    updated_at: datetime
    result: QuestionsOut | None = None
    error: str | None = None


# --- passages --------------------------------------------------------------------------


class PassageBody(In):
    passage_id: Identifier
    title: Annotated[
        str, StringConstraints(min_length=1, max_length=300), AfterValidator(_not_blank)
    ]
    text: Annotated[
        str, StringConstraints(min_length=1, max_length=200_000), AfterValidator(_not_blank)
    ]
    grade: GradeLevel
    genre: Genre = "fiction"
    topics: list[Annotated[str, StringConstraints(max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    characters: list[Annotated[str, StringConstraints(max_length=100)]] = Field(
        default_factory=list, max_length=100
    )
    source: Annotated[str, StringConstraints(max_length=300)] = "partner"


class PassagesIn(In):
    passages: list[PassageBody] = Field(min_length=1, max_length=500)


class PassageSummary(BaseModel):
    passage_id: str
    title: str
    grade: int
    genre: str
    source: str


class PassageOut(PassageSummary):
    text: str
    topics: list[str]
    characters: list[str]


class PassageList(BaseModel):
    items: list[PassageSummary]


class IngestOut(BaseModel):
    passage_ids: list[str]
    rejected_rows: dict[str, str] = Field(
        default_factory=dict, description="JSON lines left out: 'line N' -> reason"
    )


# --- students --------------------------------------------------------------------------


class StudentOut(BaseModel):
    id: str
    grade: int | None
    created_at: datetime


class StudentList(BaseModel):
    items: list[StudentOut]


class MasteryOut(BaseModel):
    student_id: str
    skills: list[SkillMastery]
    provenance: dict[str, Any] = Field(
        default_factory=dict, description="Model versions behind the estimates"
    )


class GradedResponseIn(In):
    skill: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    correct: bool
    score: float | None = Field(None, ge=0, le=1)
    item_id: Identifier | None = None
    occurred_at: datetime | None = Field(None, strict=False)  # an ISO 8601 string in JSON


class GradedResponseOut(BaseModel):
    id: str
    student_id: str
    skill: str
    correct: bool
    score: float | None
    item_id: str | None
    occurred_at: datetime
    p_mastery: float | None = None


class GradedResponseList(BaseModel):
    items: list[GradedResponseOut]


# --- alerts ----------------------------------------------------------------------------


class AlertList(BaseModel):
    items: list[AlertOut]


# --- webhooks and xAPI -----------------------------------------------------------------


class WebhookIn(In):
    url: Annotated[HttpUrl, UrlConstraints(max_length=2000), AfterValidator(_fits(2000))]
    events: list[EventType] = Field(  # type: ignore[valid-type]
        default_factory=list, description="Event types to send; empty means all"
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="Signing secret (Standard Webhooks `whsec_…`): shown once")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


class StatementsOut(BaseModel):
    statements: list[dict[str, Any]]
    more: str | None = None


# --- health ----------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


SessionOut.model_rebuild()
