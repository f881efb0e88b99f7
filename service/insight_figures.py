"""The figures of a class's insights, computed from its raw rows (``insight_rows``).

Pure arithmetic, no I/O: the analytics agent (``service/analytics.py``) calls it, and
caches what it returns. Definitions a teacher can check by hand:

- mastery: P(mastered) replayed with the mastery model's own BKT update over every graded
  answer (tutoring turns and LMS responses) in time order, from the cold-start prior; a
  skill's weekly point is the mean, over the students who had practised it, of their
  estimate at the end of the week;
- struggling: a skill with at least ``STRUGGLE_MIN_ATTEMPTS`` answers in the range and an
  estimate under ``STRUGGLE_BELOW`` (or fewer than half right); its hints are the hint
  turns given while a question on that skill was open (after an answer on it, in the
  session); assisted: right only after a hint;
- minutes on task: each turn counts the time since the session's previous turn, capped at
  ``IDLE_CAP_MIN`` (a pause longer than that is time away), the first turn counts one minute;
- an assignment is complete for a student who answered a question right in a session on
  that passage after it was assigned;
- time to insight: from the first failed attempt of the run to a teacher first seeing the
  alert; p90 by the nearest-rank method.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from readloom.service.insight_rows import ClassRows, Graded
from readloom.tools.mastery_model import BKTModel, cold_start_prior, update
from readloom.tools.prerequisites import SkillGraph

STRUGGLE_MIN_ATTEMPTS = 3
STRUGGLE_BELOW = 0.4
INACTIVE_DAYS = 7
IDLE_CAP_MIN = 5.0
HARDEST_MIN_ATTEMPTS = 3
TOP_N = 5
Trajectory = list[tuple[datetime, str, float]]  # (at, skill, P(mastered) after)


def replay(events: Iterable[Graded], model: BKTModel, graph: SkillGraph | None) -> Trajectory:
    """One student's mastery estimates after each graded answer, oldest first."""
    p: dict[str, float] = {}
    out: Trajectory = []
    for e in events:
        params = model.params(e.skill)
        before = p.get(e.skill)
        if before is None:
            before = cold_start_prior(e.skill, p, graph, params)
        p[e.skill] = update(before, e.correct, params)
        out.append((e.at, e.skill, p[e.skill]))
    return out


def week_starts(start: date, end: date) -> list[date]:
    first = start - timedelta(days=start.weekday())
    return [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]


def as_dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _r(x: float | None, n: int = 4) -> float | None:
    return None if x is None else round(x, n)


def _at_end(traj: Trajectory, cutoff: datetime) -> dict[str, float]:
    p: dict[str, float] = {}
    for at, skill, value in traj:
        if at >= cutoff:
            break
        p[skill] = value
    return p


def compute(
    rows: ClassRows,
    *,
    start: date,
    end: date,
    now: datetime,
    trajectories: dict[str, Trajectory],
    skill_name: Callable[[str], str],
    title: Callable[[str], str],
) -> dict[str, Any]:
    """Every figure of the insights page for ``[start, end]`` (whole days, UTC)."""
    lo, hi = as_dt(start), as_dt(end) + timedelta(days=1)
    weeks = week_starts(start, end)
    cutoffs = [min(as_dt(w) + timedelta(weeks=1), hi) for w in weeks]
    in_range = [g for g in rows.graded if lo <= g.at < hi]
    class_graded = [g for g in in_range if g.student_id in rows.students]
    return {
        "weeks": [w.isoformat() for w in weeks],
        "mastery_over_time": _mastery_over_time(rows, weeks, cutoffs, trajectories, skill_name),
        "struggling": _struggling(rows, class_graded, lo, hi, trajectories, skill_name),
        "inactive": _inactive(rows, min(hi, now)),
        "cohort_trends": _cohort(rows, weeks, cutoffs, trajectories),
        "hardest_questions": _hardest_questions(class_graded, skill_name, title),
        "hardest_passages": _hardest_passages(class_graded, title),
        "engagement": _engagement(rows, weeks, lo, hi, title),
        "time_to_insight": _time_to_insight(rows, lo, hi, now),
    }


def _mastery_over_time(rows, weeks, cutoffs, trajectories, skill_name) -> dict[str, Any]:
    per_skill: dict[str, list[dict[str, Any]]] = defaultdict(lambda: [{} for _ in weeks])
    for i, cutoff in enumerate(cutoffs):
        sums: dict[str, list[float]] = defaultdict(list)
        for sid in rows.students:
            for skill, p in _at_end(trajectories.get(sid, []), cutoff).items():
                sums[skill].append(p)
        for skill, values in sums.items():
            per_skill[skill][i] = {"mean_p": _r(sum(values) / len(values)), "students": len(values)}
    skills = []
    for skill, points in per_skill.items():
        series = [
            {"week": w.isoformat(), "mean_p": pt.get("mean_p"), "students": pt.get("students", 0)}
            for w, pt in zip(weeks, points, strict=True)
        ]
        skills.append({"skill": skill, "name": skill_name(skill), "points": series})
    skills.sort(key=lambda s: (-max(p["students"] for p in s["points"]), s["skill"]))
    return {"skills": skills}


def _struggling(rows, graded, lo, hi, trajectories, skill_name) -> list[dict[str, Any]]:
    hints: dict[tuple[str, str | None], int] = defaultdict(int)
    last: dict[str, datetime] = {}
    for t in rows.turns:
        if lo <= t.at < hi:
            hints[(t.student_id, t.skill)] += t.hint
            last[t.student_id] = max(last.get(t.student_id, t.at), t.at)
    by: dict[tuple[str, str], list[Graded]] = defaultdict(list)
    for g in graded:
        by[(g.student_id, g.skill)].append(g)
        last[g.student_id] = max(last.get(g.student_id, g.at), g.at)
    out = []
    for (sid, skill), events in by.items():
        n = len(events)
        right = sum(e.correct for e in events)
        p = _at_end(trajectories.get(sid, []), hi).get(skill)
        if n < STRUGGLE_MIN_ATTEMPTS or not (
            (p is not None and p < STRUGGLE_BELOW) or right * 2 < n
        ):
            continue
        out.append({
            "student_id": sid, "skill": skill, "skill_name": skill_name(skill),
            "attempts": n, "correct": right, "assisted": sum(e.assisted for e in events),
            "hints": hints[(sid, skill)], "p_mastery": _r(p),
            "last_activity": last[sid].isoformat(),
        })  # fmt: skip
    out.sort(key=lambda r: (r["p_mastery"] if r["p_mastery"] is not None else 1, r["student_id"]))
    return out


def _inactive(rows: ClassRows, as_of: datetime) -> list[dict[str, Any]]:
    last: dict[str, datetime] = {}
    for t in rows.turns:
        if t.at < as_of:
            last[t.student_id] = max(last.get(t.student_id, t.at), t.at)
    for g in rows.graded:
        if g.student_id in rows.students and g.at < as_of:
            last[g.student_id] = max(last.get(g.student_id, g.at), g.at)
    out = []
    for sid in sorted(rows.students):
        seen = last.get(sid)
        days = None if seen is None else (as_of - seen).total_seconds() / 86400
        if seen is None or days >= INACTIVE_DAYS:
            out.append({
                "student_id": sid, "last_activity": seen.isoformat() if seen else None,
                "days_since": None if days is None else int(days),
            })  # fmt: skip
    out.sort(
        key=lambda r: (
            -(r["days_since"] if r["days_since"] is not None else 10**6),
            r["student_id"],
        )
    )
    return out


def _cohort(rows, weeks, cutoffs, trajectories) -> dict[str, Any]:
    def series(members: Iterable[str]) -> list[dict[str, Any]]:
        members = set(members)
        out = []
        for w, cutoff in zip(weeks, cutoffs, strict=True):
            wlo = as_dt(w)
            answers = [g for g in rows.graded if g.student_id in members and wlo <= g.at < cutoff]
            ps = [p for sid in members for p in _at_end(trajectories.get(sid, []), cutoff).values()]
            out.append({
                "week": w.isoformat(),
                "accuracy": _r(sum(g.correct for g in answers) / len(answers)) if answers else None,
                "answers": len(answers),
                "mean_p": _r(sum(ps) / len(ps)) if ps else None,
                "students": len({g.student_id for g in answers}),
            })  # fmt: skip
        return out

    grades = sorted({g for g in rows.students.values() if g is not None})
    return {
        "class": series(rows.students),
        "grade": series(rows.cohort),
        "grades": grades,
        "grade_students": len(rows.cohort),
    }


def _hardest_questions(graded: list[Graded], skill_name, title) -> list[dict[str, Any]]:
    by: dict[tuple[str | None, str | None, str], list[Graded]] = defaultdict(list)
    for g in graded:
        by[(g.passage_id, g.item_id, g.skill)].append(g)
    out = []
    for (pid, item, skill), events in by.items():
        if len(events) < HARDEST_MIN_ATTEMPTS:
            continue
        wrong = sum(not e.correct for e in events)
        out.append({
            "passage_id": pid, "title": title(pid) if pid else None, "item_id": item,
            "skill": skill, "skill_name": skill_name(skill), "attempts": len(events),
            "error_rate": _r(wrong / len(events)), "students": len({e.student_id for e in events}),
        })  # fmt: skip
    out.sort(
        key=lambda r: (
            -r["error_rate"],
            -r["attempts"],
            str(r["passage_id"]),
            str(r["item_id"]),
            r["skill"],
        )
    )
    return out[:TOP_N]


def _hardest_passages(graded: list[Graded], title) -> list[dict[str, Any]]:
    by: dict[str, list[Graded]] = defaultdict(list)
    for g in graded:
        if g.passage_id:
            by[g.passage_id].append(g)
    out = []
    for pid, events in by.items():
        if len(events) < HARDEST_MIN_ATTEMPTS:
            continue
        wrong = sum(not e.correct for e in events)
        out.append({
            "passage_id": pid, "title": title(pid), "attempts": len(events),
            "error_rate": _r(wrong / len(events)), "students": len({e.student_id for e in events}),
        })  # fmt: skip
    out.sort(key=lambda r: (-r["error_rate"], -r["attempts"], r["passage_id"]))
    return out[:TOP_N]


def _engagement(rows: ClassRows, weeks, lo, hi, title) -> dict[str, Any]:
    n_students = max(1, len(rows.students))
    sessions: dict[str, list] = defaultdict(list)
    for t in rows.turns:
        sessions[t.session_id].append(t)
    per_week = {w: {"sessions": 0, "turns": 0, "minutes": 0.0, "active": set()} for w in weeks}
    for turns in sessions.values():
        turns.sort(key=lambda t: t.at)
        first_in: date | None = None
        prev = None
        for t in turns:
            minutes = 1.0 if prev is None else min((t.at - prev).total_seconds() / 60, IDLE_CAP_MIN)
            prev = t.at
            if not lo <= t.at < hi:
                continue
            d = t.at.date()
            w = d - timedelta(days=d.weekday())
            if w not in per_week:
                continue
            bucket = per_week[w]
            bucket["turns"] += 1
            bucket["minutes"] += minutes
            bucket["active"].add(t.student_id)
            if first_in is None:
                first_in = w
                bucket["sessions"] += 1
    weekly = []
    for w in weeks:
        b = per_week[w]
        weekly.append({
            "week": w.isoformat(),
            "sessions": b["sessions"],
            "sessions_per_student": _r(b["sessions"] / n_students, 2),
            "minutes_per_student": _r(b["minutes"] / n_students, 1),
            "turns_per_session": _r(b["turns"] / b["sessions"], 1) if b["sessions"] else None,
            "active_students": len(b["active"]),
        })  # fmt: skip
    assignments = []
    for a in rows.assignments:
        done = {
            g.student_id for g in rows.graded
            if g.source == "tutor" and g.passage_id == a.passage_id and g.correct
            and g.student_id in rows.students and a.assigned_at <= g.at < hi
        }  # fmt: skip
        assignments.append({
            "passage_id": a.passage_id, "title": title(a.passage_id),
            "assigned_at": a.assigned_at.isoformat(),
            "due_at": a.due_at.isoformat() if a.due_at else None,
            "completed": len(done), "students": len(rows.students),
            "completion": _r(len(done) / n_students),
        })  # fmt: skip
    return {"weekly": weekly, "assignments": assignments}


def _time_to_insight(rows: ClassRows, lo, hi, now) -> dict[str, Any]:
    timings = [t for t in rows.timings if lo <= t.raised_at < hi]
    seen = [t for t in timings if t.seen_at is not None]
    to_seen = [(t.seen_at - t.trouble_began_at).total_seconds() / 60 for t in seen]
    to_notify = [
        (t.notified_at - t.raised_at).total_seconds() for t in timings if t.notified_at is not None
    ]
    unseen = [t for t in timings if t.seen_at is None]
    return {
        "alerts": len(timings),
        "seen": len(seen),
        "unseen": len(unseen),
        "median_minutes": _r(median(to_seen), 1),
        "p90_minutes": _r(p90(to_seen), 1),
        "notify_median_s": _r(median(to_notify), 2),
        "notify_p90_s": _r(p90(to_notify), 2),
        "oldest_unseen_minutes": _r(
            max(((now - t.trouble_began_at).total_seconds() / 60 for t in unseen), default=None), 1
        ),
    }
