"""Class insights for teachers (figures, CSV), passage assignments, the alert clock
("a teacher opened these alerts") and family-summary links.

Insights are for the class's teachers and the tenant's admins only: a class of another
tenant, or one the teacher does not teach, is a 404 (it may not be known to exist).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from readloom.api.auth import Principal
from readloom.api.deps import RuntimeDep, ScopeDep, ServiceDep, allow
from readloom.errors import NotFound
from readloom.service import analytics, family
from readloom.storage.models import Classroom, ClassStudent, ClassTeacher, new_id, utcnow
from readloom.storage.models_insights import ClassAssignment, FamilyLink

router = APIRouter(tags=["insights"])

ClassStaff = Annotated[Principal, allow("teacher", "admin")]
LinkReaders = Annotated[Principal, allow("teacher", "admin", "partner")]
FromQ = Annotated[
    date | None, Query(alias="from", description="First day (UTC), default 27 days before 'to'")
]
ToQ = Annotated[date | None, Query(alias="to", description="Last day (UTC), default today")]


class Freshness(BaseModel):
    computed_at: datetime
    data_through: datetime | None
    age_s: float
    stale: bool = Field(description="True: the last result, served because recomputing failed")
    source: str = Field(description="live | cache | snapshot")
    reason: str | None = None


class InsightsOut(BaseModel):
    class_id: str
    name: str
    students: int
    range: dict[str, str]
    weeks: list[str]
    freshness: Freshness
    mastery_over_time: dict[str, Any]
    struggling: list[dict[str, Any]]
    inactive: list[dict[str, Any]]
    cohort_trends: dict[str, Any]
    hardest_questions: list[dict[str, Any]]
    hardest_passages: list[dict[str, Any]]
    engagement: dict[str, Any]
    time_to_insight: dict[str, Any]


async def class_in_reach(rt: Any, principal: Principal, class_id: str) -> Classroom:
    async with rt.db.reader() as s:
        c = await s.get(Classroom, class_id)
        mine = (
            principal.role != "teacher"
            or await s.get(ClassTeacher, (class_id, principal.subject)) is not None
        )
    if c is None or c.tenant_id != principal.tenant or not mine:
        raise NotFound(f"no class {class_id!r}")
    return c


async def _insights(rt, service, principal, class_id, start, end) -> dict[str, Any]:
    await class_in_reach(rt, principal, class_id)
    start, end = analytics.date_range(start, end)
    agent = analytics.analytics_for(rt.db, service)
    return await agent.insights(principal.tenant, class_id, start, end)


@router.get("/v1/classes/{class_id}/insights", response_model=InsightsOut)
async def get_class_insights(
    class_id: str, principal: ClassStaff, rt: RuntimeDep, service: ServiceDep,
    start: FromQ = None, end: ToQ = None,
) -> dict[str, Any]:  # fmt: skip
    """Mastery over time, struggling and inactive students, cohort trends, hardest
    questions and passages, engagement and time to insight, with their freshness."""
    return await _insights(rt, service, principal, class_id, start, end)


@router.get("/v1/classes/{class_id}/insights.csv", response_class=Response)
async def get_class_insights_csv(
    class_id: str, principal: ClassStaff, rt: RuntimeDep, service: ServiceDep,
    start: FromQ = None, end: ToQ = None,
) -> Response:  # fmt: skip
    """The same figures as rows: ``figure, series, key, metric, value`` (and the freshness)."""
    data = await _insights(rt, service, principal, class_id, start, end)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["figure", "series", "key", "metric", "value"])
    for row in csv_rows(data):
        w.writerow(row)
    name = f"insights-{class_id}-{data['range']['from']}-{data['range']['to']}.csv"
    return Response(
        buf.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


def csv_rows(d: dict[str, Any]) -> list[list[Any]]:
    """Every figure flattened (also what the page's data tables show)."""
    out: list[list[Any]] = []
    for k, v in d["freshness"].items():
        out.append(["freshness", "", "", k, v])
    for s in d["mastery_over_time"]["skills"]:
        for p in s["points"]:
            out.append(["mastery_over_time", s["skill"], p["week"], "mean_p", p["mean_p"]])
            out.append(["mastery_over_time", s["skill"], p["week"], "students", p["students"]])
    for r in d["struggling"]:
        for m in ("attempts", "correct", "hints", "assisted", "p_mastery", "last_activity"):
            out.append(["struggling", r["student_id"], r["skill"], m, r[m]])
    for r in d["inactive"]:
        out.append(["inactive", r["student_id"], "", "last_activity", r["last_activity"]])
        out.append(["inactive", r["student_id"], "", "days_since", r["days_since"]])
    for series in ("class", "grade"):
        for p in d["cohort_trends"][series]:
            for m in ("accuracy", "mean_p", "answers", "students"):
                out.append(["cohort_trends", series, p["week"], m, p[m]])
    for fig in ("hardest_questions", "hardest_passages"):
        for r in d[fig]:
            key = r.get("item_id") or r.get("skill") or ""
            for m in ("attempts", "error_rate", "students"):
                out.append(
                    [fig, r["passage_id"] or "", key if fig == "hardest_questions" else "", m, r[m]]
                )
    for p in d["engagement"]["weekly"]:
        for m in (
            "sessions",
            "sessions_per_student",
            "minutes_per_student",
            "turns_per_session",
            "active_students",
        ):
            out.append(["engagement", "weekly", p["week"], m, p[m]])
    for a in d["engagement"]["assignments"]:
        for m in ("completed", "students", "completion"):
            out.append(["engagement", "assignment", a["passage_id"], m, a[m]])
    for m, v in d["time_to_insight"].items():
        out.append(["time_to_insight", "", "", m, v])
    return out


# --- assignments --------------------------------------------------------------------


class AssignmentIn(BaseModel):
    passage_id: str = Field(min_length=1, max_length=200)
    due_at: datetime | None = None


class AssignmentOut(BaseModel):
    id: str
    passage_id: str
    assigned_at: datetime
    due_at: datetime | None


@router.post("/v1/classes/{class_id}/assignments", response_model=AssignmentOut, status_code=201)
async def assign_passage(
    class_id: str, body: AssignmentIn, principal: ClassStaff, scope: ScopeDep, rt: RuntimeDep
) -> AssignmentOut:
    """Assign a passage to the class (engagement reports its completion)."""
    await class_in_reach(rt, principal, class_id)
    if not await scope.passage_visible(body.passage_id):
        raise NotFound(f"no passage {body.passage_id!r}")
    async with rt.db.writer() as s:
        existing = (
            await s.execute(
                select(ClassAssignment).where(
                    ClassAssignment.class_id == class_id,
                    ClassAssignment.passage_id == body.passage_id,
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            existing = ClassAssignment(
                id=new_id("asg"), tenant_id=principal.tenant, class_id=class_id,
                passage_id=body.passage_id, assigned_at=utcnow(), due_at=body.due_at,
                created_by=principal.subject,
            )  # fmt: skip
            s.add(existing)
    return AssignmentOut.model_validate(existing, from_attributes=True)


@router.get("/v1/classes/{class_id}/assignments", response_model=list[AssignmentOut])
async def list_assignments(
    class_id: str, principal: ClassStaff, rt: RuntimeDep
) -> list[AssignmentOut]:
    await class_in_reach(rt, principal, class_id)
    async with rt.db.reader() as s:
        rows = await s.execute(
            select(ClassAssignment)
            .where(ClassAssignment.class_id == class_id)
            .order_by(ClassAssignment.assigned_at)
        )
        return [AssignmentOut.model_validate(a, from_attributes=True) for a in rows.scalars()]


# --- the alert clock ----------------------------------------------------------------


class SeenIn(BaseModel):
    alert_ids: list[str] = Field(min_length=1, max_length=500)


@router.post("/v1/alerts/seen", tags=["alerts"])
async def alerts_seen(
    body: SeenIn, principal: ClassStaff, scope: ScopeDep, rt: RuntimeDep, service: ServiceDep
) -> dict[str, int]:
    """The teacher page shows these alerts to a teacher: time to insight stops here
    (only the first sighting counts; alerts outside the caller's reach are ignored)."""
    agent = analytics.analytics_for(rt.db, service)
    return {
        "marked": await agent.mark_seen(principal.tenant, body.alert_ids, "opened", scope=scope)
    }


# --- family links -------------------------------------------------------------------


class FamilyLinkIn(BaseModel):
    days: int = Field(default=family.DEFAULT_DAYS, ge=1, le=family.MAX_DAYS)


class FamilyLinkOut(BaseModel):
    id: str
    student_id: str
    url: str | None = Field(default=None, description="Shown once, when the link is made")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_opened_at: datetime | None


async def _student_of_class(rt: Any, class_id: str, student_id: str) -> None:
    async with rt.db.reader() as s:
        if await s.get(ClassStudent, (class_id, student_id)) is None:
            raise NotFound(f"no student {student_id!r} in this class")


@router.post(
    "/v1/classes/{class_id}/students/{student_id}/family-links",
    response_model=FamilyLinkOut, status_code=201,
)  # fmt: skip
async def create_family_link(
    class_id: str, student_id: str, request: Request, principal: ClassStaff, rt: RuntimeDep,
    body: FamilyLinkIn | None = None,
) -> FamilyLinkOut:  # fmt: skip
    """A signed, expiring link to the student's weekly summary, to share with the family."""
    await class_in_reach(rt, principal, class_id)
    await _student_of_class(rt, class_id, student_id)
    async with rt.db.writer() as s:
        link, token = await family.create_link(
            s, rt.settings, tenant=principal.tenant, class_id=class_id, student_id=student_id,
            created_by=principal.subject, days=(body or FamilyLinkIn()).days,
        )  # fmt: skip
    url = str(request.base_url).rstrip("/") + "/family/" + token
    return FamilyLinkOut.model_validate(link, from_attributes=True).model_copy(update={"url": url})


@router.get(
    "/v1/classes/{class_id}/students/{student_id}/family-links", response_model=list[FamilyLinkOut]
)
async def list_family_links(
    class_id: str, student_id: str, principal: ClassStaff, rt: RuntimeDep
) -> list[FamilyLinkOut]:
    await class_in_reach(rt, principal, class_id)
    async with rt.db.reader() as s:
        rows = await s.execute(
            select(FamilyLink)
            .where(FamilyLink.class_id == class_id, FamilyLink.student_id == student_id)
            .order_by(FamilyLink.created_at)
        )
        return [FamilyLinkOut.model_validate(x, from_attributes=True) for x in rows.scalars()]


@router.delete("/v1/family-links/{link_id}", response_model=FamilyLinkOut)
async def revoke_family_link(link_id: str, principal: ClassStaff, rt: RuntimeDep) -> FamilyLinkOut:
    """Withdraw a link at once (idempotent)."""
    async with rt.db.reader() as s:
        link = await s.get(FamilyLink, link_id)
    if link is None or link.tenant_id != principal.tenant:
        raise NotFound(f"no family link {link_id!r}")
    await class_in_reach(rt, principal, link.class_id)
    async with rt.db.writer() as s:
        link = await s.get(FamilyLink, link_id)
        assert link is not None
        if link.revoked_at is None:
            link.revoked_at = utcnow()
    return FamilyLinkOut.model_validate(link, from_attributes=True)


@router.get(
    "/v1/classes/{class_id}/students/{student_id}/family-summary",
    response_model=family.FamilySummary,
)
async def get_family_summary(
    class_id: str, student_id: str, principal: LinkReaders, rt: RuntimeDep, service: ServiceDep
) -> family.FamilySummary:
    """The weekly family summary as data, for a teacher or an LMS that shows it itself."""
    await class_in_reach(rt, principal, class_id)
    await _student_of_class(rt, class_id, student_id)
    agent = analytics.analytics_for(rt.db, service)
    async with rt.db.reader() as s:
        return await family.summary(s, agent, tenant=principal.tenant, student_id=student_id)
