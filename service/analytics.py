"""The analytics agent: a class's insights for its teacher, computed from the one
database, cached, and recomputed only when the rows under them change.

- A result is kept in ``insights_snapshots`` with the watermark of the rows it was
  computed from; a request whose watermark is unchanged is answered from it.
- A recomputation replays BKT only for the students whose graded answers changed (the
  per-student trajectories are cached in this process).
- When a recomputation fails (a database error, a bad row), the last result is served
  with ``stale: true`` and its age instead of an error; only a class never computed
  before answers 503.

It also keeps the time-to-insight clock of every alert: when the trouble began, when
the alert was raised and its notifications queued, when a teacher first saw it.
"""

from __future__ import annotations

import hashlib
import logging
import weakref
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
from cachetools import LRUCache
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from readloom.errors import InputError, ReadloomError
from readloom.service import insight_figures, insight_rows
from readloom.storage.db import Database
from readloom.storage.models import Message, utcnow
from readloom.storage.models_insights import AlertTiming, FamilyLink, InsightsSnapshot

log = logging.getLogger("readloom.service.analytics")

DEFAULT_DAYS = 28
MAX_DAYS = 366
SEEN_HOW = ("opened", "acknowledged")


class InsightsUnavailable(ReadloomError):
    code = "insights_unavailable"
    status = 503


def date_range(
    start: date | None, end: date | None, *, today: date | None = None
) -> tuple[date, date]:
    """The requested days, or the last four weeks; refused when reversed or over a year."""
    today = today or datetime.now(UTC).date()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InputError("'from' must not be after 'to'")
    if (end - start).days + 1 > MAX_DAYS:
        raise InputError(f"a date range may span at most {MAX_DAYS} days")
    return start, end


class Analytics:
    """One per database: ``insights`` for the page and API, the alert clock's writes."""

    def __init__(self, db: Database, service: Any):
        self.db = db
        self.service = service
        self._trajectories: LRUCache[tuple[str, str], tuple[Any, Any]] = LRUCache(maxsize=20_000)
        self._last: LRUCache[tuple[str, str], dict[str, Any]] = LRUCache(maxsize=512)
        self._titles: dict[str, str] = {}

    # --- naming ----------------------------------------------------------------------

    def skill_name(self, skill: str) -> str:
        graph = self.service.services.skills
        return graph.get(skill).name if skill in graph else skill

    def title(self, passage_id: str) -> str:
        if passage_id not in self._titles:
            try:
                # as stored (placeholders for a tenant's text): insights are kept in the
                # database and read by partners and admins too
                store = self.service.services.store
                self._titles[passage_id] = store.get(passage_id, opened=False).title
            except Exception:  # noqa: BLE001 - a deleted passage still has an id to show
                self._titles[passage_id] = passage_id
        return self._titles[passage_id]

    # --- insights ----------------------------------------------------------------------

    async def insights(
        self, tenant: str, class_id: str, start: date, end: date, *, now: datetime | None = None
    ) -> dict[str, Any]:
        key = hashlib.sha256(f"{tenant}|{class_id}|{start}|{end}".encode()).hexdigest()[:64]
        now = now or utcnow()
        try:
            return await self._fresh(key, tenant, class_id, start, end, now)
        except ReadloomError:
            raise
        except Exception as exc:  # noqa: BLE001 - serve the last result, never an error page
            log.warning("insights_failed class_id_hash=%s type=%s", key[:12], type(exc).__name__)
            return await self._stale(tenant, key, now, type(exc).__name__)

    async def _fresh(self, key, tenant, class_id, start, end, now) -> dict[str, Any]:
        until = insight_figures.as_dt(end) + timedelta(days=1)
        async with self.db.reader() as s:
            students = await insight_rows.class_students(s, class_id, tenant)
            mark = await insight_rows.watermark(s, tenant, class_id, sorted(students))
            snap = await s.get(InsightsSnapshot, key)
            if (
                snap is not None
                and snap.watermark == mark
                and (now - snap.computed_at) < timedelta(minutes=5)
            ):
                result = _with_freshness(snap.result, now, stale=False, source="cache")
                self._last[(tenant, key)] = snap.result
                return result
            rows = await insight_rows.load(s, tenant, class_id, until)
        trajectories = await anyio.to_thread.run_sync(lambda: self._replay_all(rows))
        figures = insight_figures.compute(
            rows, start=start, end=end, now=now, trajectories=trajectories,
            skill_name=self.skill_name, title=self.title,
        )  # fmt: skip
        data_through = max((g.at for g in rows.graded), default=None)
        last_turn = max((t.at for t in rows.turns), default=None)
        if last_turn and (data_through is None or last_turn > data_through):
            data_through = last_turn
        result = {
            "class_id": class_id, "name": rows.name, "students": len(rows.students),
            "range": {"from": start.isoformat(), "to": end.isoformat()},
            "computed_at": now.isoformat(),
            "data_through": data_through.isoformat() if data_through else None,
            **figures,
        }  # fmt: skip
        self._last[(tenant, key)] = result
        await self._save(key, tenant, class_id, mark, now, result)
        return _with_freshness(result, now, stale=False, source="live")

    async def _save(self, key, tenant, class_id, mark, now, result) -> None:
        try:
            async with self.db.writer() as s:
                snap = await s.get(InsightsSnapshot, key)
                if snap is None:
                    s.add(InsightsSnapshot(key=key, tenant_id=tenant, class_id=class_id,
                                           watermark=mark, computed_at=now, result=result))  # fmt: skip
                else:
                    snap.watermark, snap.computed_at, snap.result = mark, now, result
        except Exception as exc:  # noqa: BLE001 - the live result is still good to serve
            log.warning("insights_snapshot_not_saved type=%s", type(exc).__name__)

    async def _stale(self, tenant: str, key: str, now: datetime, reason: str) -> dict[str, Any]:
        result = self._last.get((tenant, key))
        if result is None:
            try:
                async with self.db.reader() as s:
                    snap = await s.get(InsightsSnapshot, key)
                    result = snap.result if snap is not None else None
            except Exception:  # noqa: BLE001 - the database itself may be what failed
                result = None
        if result is None:
            raise InsightsUnavailable(
                "insights could not be computed just now and none were computed before: "
                "try again in a minute"
            )
        return _with_freshness(result, now, stale=True, source="snapshot", reason=reason)

    def _replay_all(self, rows: insight_rows.ClassRows) -> dict[str, Any]:
        """BKT trajectories per student, replayed only for students with new answers."""
        by: dict[str, list[insight_rows.Graded]] = defaultdict(list)
        for g in rows.graded:
            by[g.student_id].append(g)
        mastery = self.service.services.mastery
        out = {}
        for sid, events in by.items():
            marker = (len(events), events[-1].at, sum(e.correct for e in events))
            cached = self._trajectories.get((rows.tenant, sid))
            if cached is not None and cached[0] == marker:
                out[sid] = cached[1]
                continue
            traj = insight_figures.replay(events, mastery.model, mastery.graph)
            self._trajectories[(rows.tenant, sid)] = (marker, traj)
            out[sid] = traj
        return out

    def forget(self, tenant: str, student_id: str) -> None:
        """FERPA erasure: drop the cached results that may name the student."""
        self._trajectories.pop((tenant, student_id), None)
        for k in [k for k in self._last if k[0] == tenant]:
            self._last.pop(k, None)

    # --- the alert clock ----------------------------------------------------------------

    async def mark_seen(
        self, tenant: str, alert_ids: list[str], how: str, *, scope: Any = None
    ) -> int:
        """A teacher opened (or acknowledged) these alerts: stop their clocks, first time only."""
        if how not in SEEN_HOW or not alert_ids:
            return 0
        stmt = (
            update(AlertTiming)
            .where(
                AlertTiming.tenant_id == tenant,
                AlertTiming.alert_id.in_([str(a) for a in alert_ids]),
                AlertTiming.seen_at.is_(None),
            )
            .values(seen_at=utcnow(), seen_how=how)
        )
        if (
            scope is not None
            and (extra := scope.student_filter(AlertTiming.student_id)) is not None
        ):
            stmt = stmt.where(extra)
        async with self.db.writer() as s:
            res = await s.execute(stmt)
        return int(res.rowcount or 0)  # type: ignore[attr-defined]


async def record_alert(
    s: AsyncSession,
    *,
    tenant: str,
    session_id: str,
    student_id: str,
    alert_id: str,
    kind: str,
    raised_at: datetime,
    failed_run: bool = True,
) -> AlertTiming | None:
    """Start an alert's clock in the transaction that queues its notifications (a repeat
    of an alert already timed keeps the first clock). The trouble began at the first
    failed attempt of the run: the first wrong answer after the session's last right one
    (for an alert with no wrong answer, the first turn after it); a safety alert's
    trouble began with the message that raised it (``failed_run=False``)."""
    existing = await s.execute(
        select(AlertTiming.id).where(
            AlertTiming.tenant_id == tenant, AlertTiming.alert_id == alert_id
        )
    )
    if existing.first() is not None:
        return None
    if not failed_run:
        s.add(AlertTiming(
            tenant_id=tenant, alert_id=alert_id, session_id=session_id, student_id=student_id,
            kind=kind, trouble_began_at=raised_at, raised_at=raised_at, notified_at=utcnow(),
        ))  # fmt: skip
        return None
    await s.flush()
    turns = await s.execute(
        select(Message.created_at, Message.meta)
        .where(Message.session_id == session_id)
        .order_by(Message.seq.desc())
    )
    began_wrong = began_any = None
    for at, meta in turns.all():
        g = insight_rows.graded_from_meta(meta)
        if g is not None and g[1]:
            break
        began_any = at
        if g is not None:
            began_wrong = at
    began = began_wrong or began_any or raised_at
    timing = AlertTiming(
        tenant_id=tenant, alert_id=alert_id, session_id=session_id, student_id=student_id,
        kind=kind, trouble_began_at=min(began, raised_at), raised_at=raised_at,
        notified_at=utcnow(),
    )  # fmt: skip
    s.add(timing)
    return timing


def erasure_targets(tenant: str, student_id: str) -> list[tuple[Any, Any]]:
    """(model, where) of the insights rows a FERPA deletion of the student removes: their
    alert clocks and family links, and the tenant's snapshots (which may name them; they
    are recomputed on the next request)."""
    return [
        (AlertTiming, (AlertTiming.tenant_id == tenant) & (AlertTiming.student_id == student_id)),
        (FamilyLink, (FamilyLink.tenant_id == tenant) & (FamilyLink.student_id == student_id)),
        (InsightsSnapshot, InsightsSnapshot.tenant_id == tenant),
    ]


def _with_freshness(
    result: dict[str, Any], now: datetime, *, stale: bool, source: str, reason: str | None = None
) -> dict[str, Any]:
    computed = datetime.fromisoformat(result["computed_at"])
    age = max(0.0, (now - computed).total_seconds())
    fresh = {
        "computed_at": result["computed_at"], "data_through": result.get("data_through"),
        "age_s": round(age, 1), "stale": stale, "source": source,
    }  # fmt: skip
    if reason:
        fresh["reason"] = reason
    return {**result, "freshness": fresh}


_instances: weakref.WeakKeyDictionary[Database, Analytics] = weakref.WeakKeyDictionary()


def analytics_for(db: Database, service: Any) -> Analytics:
    agent = _instances.get(db)
    if agent is None or agent.service is not service:
        agent = _instances[db] = Analytics(db, service)
    return agent
