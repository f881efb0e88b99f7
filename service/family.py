"""The weekly family summary of one student, and the links that reach it.

A link's token is ``<link id>.<expiry, unix s>.<HMAC>``: the signature (keyed from the
deployment's secret, separated by purpose) makes it unguessable and its expiry
tamper-proof; the ``family_links`` row makes it revocable. A token names one link, a
link one student: every query below is filtered by that student, so no other child's
data can be reached from it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from readloom.errors import InputError, NotFound
from readloom.guardrails.keys import load_key
from readloom.service import insight_figures, insight_rows
from readloom.settings import Settings
from readloom.storage.models import GradedResponse, Message, TutoringSession, new_id, utcnow
from readloom.storage.models_insights import FamilyLink

DEFAULT_DAYS = 14
MAX_DAYS = 90
GROWING_MIN = 0.01
HOME_TIPS = {
    "key_ideas": "After a story at bedtime, ask who it was about, what happened first and what happened in the end.",
    "craft_structure": "Pick one interesting word on a page together and talk about why the author chose it.",
    "integration": "Read a short article or recipe together and ask what the pictures or headings add.",
    "vocabulary": "When you meet a new word while reading together, guess its meaning from the sentence, then check.",
}  # fmt: skip


class FamilySummary(BaseModel):
    student_id: str
    week_from: str
    week_to: str
    sessions: int
    minutes: float
    passages: list[str] = Field(description="Titles read this week")
    growing: list[dict[str, Any]] = Field(description="Skills whose estimate rose this week")
    practise: dict[str, str] | None = Field(description="One thing to practise at home")


def _key(settings: Settings) -> bytes:
    return hmac.new(load_key(settings), b"family-link", hashlib.sha256).digest()


def sign(settings: Settings, link_id: str, expires: datetime) -> str:
    exp = int(expires.timestamp())
    mac = hmac.new(_key(settings), f"{link_id}.{exp}".encode(), hashlib.sha256).digest()
    return f"{link_id}.{exp}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def verify(settings: Settings, token: str, *, now: datetime | None = None) -> str | None:
    """The link id of a well-signed, unexpired token, else None (the page says why not
    only in general terms)."""
    try:
        link_id, exp_s, _ = token.split(".")
        expires = datetime.fromtimestamp(int(exp_s), UTC)
    except ValueError:
        return None
    if not hmac.compare_digest(sign(settings, link_id, expires), token):
        return None
    if (now or utcnow()) >= expires:
        return None
    return link_id


async def create_link(
    s: AsyncSession, settings: Settings, *, tenant: str, class_id: str, student_id: str,
    created_by: str | None, days: int,
) -> tuple[FamilyLink, str]:  # fmt: skip
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"a family link lasts 1 to {MAX_DAYS} days")
    link = FamilyLink(
        id=new_id("fam"), tenant_id=tenant, class_id=class_id, student_id=student_id,
        created_by=created_by, created_at=utcnow(), expires_at=utcnow() + timedelta(days=days),
    )  # fmt: skip
    s.add(link)
    return link, sign(settings, link.id, link.expires_at)


async def open_link(s: AsyncSession, settings: Settings, token: str) -> FamilyLink:
    """The live link a token names (NotFound for a bad, expired or revoked one)."""
    link_id = verify(settings, token)
    link = await s.get(FamilyLink, link_id) if link_id else None
    if link is None or link.revoked_at is not None or link.expires_at <= utcnow():
        raise NotFound("this family link is not valid: it may have expired or been withdrawn")
    link.last_opened_at = utcnow()
    return link


async def summary(
    s: AsyncSession, agent: Any, *, tenant: str, student_id: str, now: datetime | None = None
) -> FamilySummary:
    """The last seven days of one student, in plain words."""
    now = now or utcnow()
    lo = now - timedelta(days=7)
    turns = await s.execute(
        select(Message.created_at, Message.meta, TutoringSession.id, TutoringSession.passage_id)
        .join(TutoringSession, TutoringSession.id == Message.session_id)
        .where(TutoringSession.tenant_id == tenant, TutoringSession.student_id == student_id,
               Message.created_at < now)
        .order_by(TutoringSession.id, Message.seq)
    )  # fmt: skip
    graded: list[insight_rows.Graded] = []
    sessions: dict[str, list[datetime]] = defaultdict(list)
    passages: dict[str, None] = {}
    for at, meta, sid, pid in turns.all():
        g = insight_rows.graded_from_meta(meta)
        if g is not None:
            graded.append(
                insight_rows.Graded(at, student_id, g[0], g[1], False, pid, None, "tutor")
            )
        if at >= lo:
            sessions[sid].append(at)
            if pid:
                passages[pid] = None
    lms = await s.execute(
        select(GradedResponse).where(
            GradedResponse.tenant_id == tenant, GradedResponse.student_id == student_id,
            GradedResponse.occurred_at < now,
        )
    )  # fmt: skip
    for r in lms.scalars():
        graded.append(insight_rows.Graded(r.occurred_at, student_id, r.skill, r.correct, False, None, r.item_id, "lms"))  # fmt: skip
    graded.sort(key=lambda g: g.at)
    mastery = agent.service.services.mastery
    traj = insight_figures.replay(graded, mastery.model, mastery.graph)
    before = insight_figures._at_end(traj, lo)
    after = insight_figures._at_end(traj, now)
    recent = {g.skill for g in graded if g.at >= lo}
    growing = sorted(
        (
            {
                "skill": k,
                "name": agent.skill_name(k),
                "from": round(before.get(k, 0.0), 2),
                "to": round(p, 2),
            }
            for k, p in after.items()
            if k in recent and p - before.get(k, 0.0) >= GROWING_MIN
        ),
        key=lambda r: r["from"] - r["to"],
    )[:3]
    practise = None
    candidates = {k: p for k, p in after.items() if k in recent} or after
    if candidates:
        weakest = min(candidates, key=lambda k: (candidates[k], k))
        graph = agent.service.services.skills
        strand = graph.get(weakest).strand if weakest in graph else "key_ideas"
        practise = {"skill": weakest, "name": agent.skill_name(weakest), "tip": HOME_TIPS[strand]}
    minutes = 0.0
    for stamps in sessions.values():
        stamps.sort()
        minutes += 1 + sum(
            min((b - a).total_seconds() / 60, insight_figures.IDLE_CAP_MIN)
            for a, b in zip(stamps, stamps[1:], strict=False)
        )
    return FamilySummary(
        student_id=student_id, week_from=lo.date().isoformat(), week_to=now.date().isoformat(),
        sessions=len(sessions), minutes=round(minutes, 1),
        passages=[agent.title(p) for p in passages], growing=growing, practise=practise,
    )  # fmt: skip
