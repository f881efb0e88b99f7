"""Every figure of a simulated class's insights (30 students × 4 weeks, seeded) against a
recomputation from the raw rows, written here independently of the analytics code: each
figure is recounted straight from ``messages``, ``graded_responses``, ``alert_timings``
and ``class_assignments``."""

from __future__ import annotations

import math
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from apitest_support import Server
from sqlalchemy import select
from sqlalchemy.orm import Session

from readloom.service import simclass
from readloom.storage.db import sync_engine
from readloom.storage.models import ClassStudent, GradedResponse, Message, Student, TutoringSession
from readloom.storage.models_insights import AlertTiming, ClassAssignment
from readloom.tools.mastery_model import cold_start_prior, update

END = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


@pytest.fixture(scope="module")
def sim(server: Server) -> dict[str, Any]:
    tenant = f"sim-{uuid.uuid4().hex[:8]}"
    spec = simclass.SimSpec(tenant=tenant, class_id=f"{tenant}-class", teacher="sim-teacher")
    simclass.write(server.settings, spec, end=END)
    teacher = server.client(server.key(tenant, "teacher", "sim-teacher"))
    start, end = (END - timedelta(weeks=4)).date(), datetime.now(UTC).date()
    r = teacher.get(
        f"/v1/classes/{spec.class_id}/insights", params={"from": str(start), "to": str(end)}
    )
    assert r.status_code == 200, r.text
    return {"spec": spec, "body": r.json(), "raw": _raw(server, spec), "start": start, "end": end}


def _raw(server: Server, spec: simclass.SimSpec) -> dict[str, Any]:
    engine = sync_engine(server.settings)
    try:
        with Session(engine) as s:
            students = dict(
                s.execute(
                    select(ClassStudent.student_id, Student.grade)
                    .join(Student, Student.id == ClassStudent.student_id)
                    .where(ClassStudent.class_id == spec.class_id, Student.tenant_id == spec.tenant)
                ).all()
            )
            msgs = s.execute(
                select(Message, TutoringSession)
                .join(TutoringSession, TutoringSession.id == Message.session_id)
                .where(TutoringSession.tenant_id == spec.tenant)
            ).all()
            msgs = [
                (m.created_at, m.seq, m.meta, t.id, t.student_id, t.passage_id) for m, t in msgs
            ]
            lms = [
                (g.occurred_at, g.student_id, g.skill, g.correct, g.item_id)
                for g in s.scalars(
                    select(GradedResponse).where(GradedResponse.tenant_id == spec.tenant)
                )
            ]
            timings = list(
                s.scalars(select(AlertTiming).where(AlertTiming.tenant_id == spec.tenant))
            )
            assigns = list(
                s.scalars(select(ClassAssignment).where(ClassAssignment.class_id == spec.class_id))
            )
            s.expunge_all()
    finally:
        engine.dispose()
    return {"students": students, "msgs": msgs, "lms": lms, "timings": timings, "assigns": assigns}


def _answers(raw) -> list[dict[str, Any]]:
    """Every graded answer: tutoring turns (with 'assisted': right after a hint since the
    session's previous answer) and LMS responses."""
    out = []
    by_session = defaultdict(list)
    for row in raw["msgs"]:
        by_session[row[3]].append(row)
    for rows in by_session.values():
        hinted = False
        skill_open = None
        for at, _, meta, sid, student, pid in sorted(rows, key=lambda r: r[1]):
            g = meta.get("grade_result")
            hint = meta.get("move") in ("hint", "alternate_explanation") or (
                (meta.get("intervention") or {}).get("kind") == "escalate_hint"
            )
            if g:
                skill_open = g["skill"]
                out.append({"at": at, "student": student, "skill": g["skill"], "correct": g["correct"],
                            "assisted": g["correct"] and hinted, "passage": pid, "item": None,
                            "source": "tutor"})  # fmt: skip
                hinted = False
            if hint:
                hinted = True
            out_turn = {
                "at": at,
                "student": student,
                "session": sid,
                "hint": hint,
                "skill": skill_open,
            }
            raw.setdefault("turns", []).append(out_turn)
    for at, student, skill, correct, item in raw["lms"]:
        out.append({"at": at, "student": student, "skill": skill, "correct": correct,
                    "assisted": False, "passage": None, "item": item, "source": "lms"})  # fmt: skip
    return sorted(out, key=lambda a: (a["at"], a["student"]))


def _p(answers, student, cutoff, model, graph) -> dict[str, float]:
    """A student's estimates from their answers before ``cutoff``, replayed from scratch."""
    p: dict[str, float] = {}
    for a in answers:
        if a["student"] != student or a["at"] >= cutoff:
            continue
        params = model.params(a["skill"])
        prior = p[a["skill"]] if a["skill"] in p else cold_start_prior(a["skill"], p, graph, params)
        p[a["skill"]] = update(prior, a["correct"], params)
    return p


def _weeks(start: date, end: date) -> list[tuple[date, datetime, datetime]]:
    first = start - timedelta(days=start.weekday())
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    out = []
    w = first
    while w <= end:
        lo = datetime(w.year, w.month, w.day, tzinfo=UTC)
        out.append((w, lo, min(lo + timedelta(days=7), hi)))
        w += timedelta(days=7)
    return out


def _close(a, b, tol=1e-3) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tol


def test_every_figure_matches_a_recomputation_from_raw_rows(sim, services) -> None:
    body, raw = sim["body"], sim["raw"]
    model, graph = services.mastery.model, services.mastery.graph
    students = raw["students"]
    assert body["students"] == len(students) == 30
    answers = _answers(raw)
    turns = raw["turns"]
    weeks = _weeks(sim["start"], sim["end"])
    lo = datetime.combine(sim["start"], datetime.min.time(), UTC)
    hi = weeks[-1][2]
    assert body["weeks"] == [w.isoformat() for w, *_ in weeks]
    assert body["freshness"]["stale"] is False and body["freshness"]["computed_at"]

    # mastery over time: mean of each practising student's estimate at each week's end
    got = {s["skill"]: s["points"] for s in body["mastery_over_time"]["skills"]}
    expected_skills = {a["skill"] for a in answers}
    assert set(got) == expected_skills
    for skill in expected_skills:
        for (w, _, cutoff), point in zip(weeks, got[skill], strict=True):
            ps = [
                p[skill]
                for sid in students
                if skill in (p := _p(answers, sid, cutoff, model, graph))
            ]
            assert point["students"] == len(ps), (skill, w)
            assert _close(point["mean_p"], sum(ps) / len(ps) if ps else None), (skill, w)

    # struggling: ≥3 answers in range and (estimate < 0.4 or under half right), with evidence
    expected = {}
    for sid in students:
        final = _p(answers, sid, hi, model, graph)
        mine = [a for a in answers if a["student"] == sid and lo <= a["at"] < hi]
        last = max(
            [a["at"] for a in mine]
            + [t["at"] for t in turns if t["student"] == sid and lo <= t["at"] < hi],
            default=None,
        )
        for skill in {a["skill"] for a in mine}:
            xs = [a for a in mine if a["skill"] == skill]
            right = sum(a["correct"] for a in xs)
            if len(xs) >= 3 and (final[skill] < 0.4 or right * 2 < len(xs)):
                hints = sum(
                    t["hint"]
                    for t in turns
                    if t["student"] == sid and t["skill"] == skill and lo <= t["at"] < hi
                )
                expected[(sid, skill)] = (
                    len(xs),
                    right,
                    sum(a["assisted"] for a in xs),
                    hints,
                    final[skill],
                    last.isoformat(),
                )
    got = {
        (r["student_id"], r["skill"]): (
            r["attempts"],
            r["correct"],
            r["assisted"],
            r["hints"],
            r["p_mastery"],
            r["last_activity"],
        )
        for r in body["struggling"]
    }
    assert set(got) == set(expected) and expected
    for k, e in expected.items():
        assert got[k][:4] == e[:4], k
        assert _close(got[k][4], e[4]) and got[k][5] == e[5], k

    # not practising lately: no turn or answer in the last 7 days
    now = datetime.fromisoformat(body["freshness"]["computed_at"])
    inactive = {}
    for sid in students:
        stamps = [t["at"] for t in turns if t["student"] == sid] + [
            a["at"] for a in answers if a["student"] == sid
        ]
        last = max(stamps, default=None)
        if last is None or (now - last) >= timedelta(days=7):
            inactive[sid] = last
    assert {r["student_id"]: r["last_activity"] for r in body["inactive"]} == {
        k: v.isoformat() if v else None for k, v in inactive.items()
    }
    assert inactive, "the simulation has students who stopped practising"

    # cohort trends: weekly accuracy, answers, students and mean estimate (class = grade here)
    for series in ("class", "grade"):
        for (_w, wlo, cutoff), point in zip(weeks, body["cohort_trends"][series], strict=True):
            xs = [a for a in answers if a["student"] in students and wlo <= a["at"] < cutoff]
            assert point["answers"] == len(xs)
            assert point["students"] == len({a["student"] for a in xs})
            assert _close(
                point["accuracy"], sum(a["correct"] for a in xs) / len(xs) if xs else None
            )
            ps = [v for sid in students for v in _p(answers, sid, cutoff, model, graph).values()]
            assert _close(point["mean_p"], sum(ps) / len(ps) if ps else None)

    # hardest questions (passage or LMS item × skill) and passages: top 5 by error rate
    in_range = [a for a in answers if lo <= a["at"] < hi]

    def top(key, order) -> list[tuple]:
        groups = defaultdict(list)
        for a in in_range:
            if key(a) is not None:
                groups[key(a)].append(a)
        rows = [
            (k, len(v), round(sum(not a["correct"] for a in v) / len(v), 4))
            for k, v in groups.items()
            if len(v) >= 3
        ]
        rows.sort(key=lambda r: (-r[2], -r[1], *order(r[0])))
        return rows[:5]

    q = top(lambda a: (a["passage"], a["item"], a["skill"]), lambda k: (str(k[0]), str(k[1]), k[2]))
    assert [
        ((r["passage_id"], r["item_id"], r["skill"]), r["attempts"], r["error_rate"])
        for r in body["hardest_questions"]
    ] == q
    assert q
    p = top(lambda a: a["passage"], lambda k: (k,))
    assert [
        (r["passage_id"], r["attempts"], r["error_rate"]) for r in body["hardest_passages"]
    ] == p
    assert p

    # engagement per week: sessions (by first turn in range), minutes (gaps capped at 5,
    # first turn 1), turns per session, active students; completion of assignments
    by_session = defaultdict(list)
    for t in turns:
        by_session[t["session"]].append(t)
    for (w, wlo, cutoff), point in zip(weeks, body["engagement"]["weekly"], strict=True):
        n_sessions = n_turns = 0
        minutes = 0.0
        active = set()
        for ts in by_session.values():
            ts = sorted(ts, key=lambda t: t["at"])
            in_r = [t for t in ts if lo <= t["at"] < hi]
            if in_r and wlo <= in_r[0]["at"] < cutoff:
                n_sessions += 1
            for i, t in enumerate(ts):
                if wlo <= t["at"] < cutoff and lo <= t["at"] < hi:
                    n_turns += 1
                    active.add(t["student"])
                    minutes += (
                        1.0
                        if i == 0
                        else min((t["at"] - ts[i - 1]["at"]).total_seconds() / 60, 5.0)
                    )
        assert point["sessions"] == n_sessions, w
        assert point["active_students"] == len(active)
        assert _close(point["minutes_per_student"], round(minutes / 30, 1), 0.051)
        assert _close(
            point["turns_per_session"],
            round(n_turns / n_sessions, 1) if n_sessions else None,
            0.051,
        )
        assert _close(point["sessions_per_student"], round(n_sessions / 30, 2), 0.0051)
    for a, got_a in zip(
        sorted(raw["assigns"], key=lambda a: a.assigned_at),
        body["engagement"]["assignments"],
        strict=True,
    ):
        done = {x["student"] for x in answers if x["source"] == "tutor" and x["passage"] == a.passage_id
                and x["correct"] and a.assigned_at <= x["at"] < hi}  # fmt: skip
        assert (got_a["passage_id"], got_a["completed"]) == (a.passage_id, len(done))

    # time to insight: trouble began → a teacher saw it, median and nearest-rank p90
    ts = [t for t in raw["timings"] if lo <= t.raised_at < hi]
    mins = sorted((t.seen_at - t.trouble_began_at).total_seconds() / 60 for t in ts if t.seen_at)
    tti = body["time_to_insight"]
    assert tti["alerts"] == len(ts) > 0 and tti["seen"] == len(mins)
    assert _close(tti["median_minutes"], round(statistics.median(mins), 1), 0.051)
    assert _close(tti["p90_minutes"], round(mins[math.ceil(0.9 * len(mins)) - 1], 1), 0.051)
    notify = sorted((t.notified_at - t.raised_at).total_seconds() for t in ts)
    assert _close(tti["notify_p90_s"], round(notify[math.ceil(0.9 * len(notify)) - 1], 2), 0.0051)
    assert tti["notify_p90_s"] <= 60


def test_csv_export_carries_every_figure(sim, server: Server) -> None:
    spec = sim["spec"]
    teacher = server.client(server.key(spec.tenant, "teacher", "sim-teacher"))
    r = teacher.get(f"/v1/classes/{spec.class_id}/insights.csv",
                    params={"from": str(sim["start"]), "to": str(sim["end"])})  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(r.text)))
    figures = {row["figure"] for row in rows}
    assert figures >= {"freshness", "mastery_over_time", "struggling", "inactive", "cohort_trends",
                       "hardest_questions", "hardest_passages", "engagement", "time_to_insight"}  # fmt: skip
    p90 = next(
        row for row in rows if row["figure"] == "time_to_insight" and row["metric"] == "p90_minutes"
    )
    assert float(p90["value"]) == sim["body"]["time_to_insight"]["p90_minutes"]
