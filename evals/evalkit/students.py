"""Six scripted students, 8 turns each, through the real graph (written for readloom).

Each student answers the question the tutor is asking *now* (the simulation knows its key),
in its own way: a strong reader, a guesser, an "idk / just tell me" child, a trickster, an
off-topic and frustrated child, and a partly-right child. The tutor opens every session
(no first message), as it does for a real child.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TURNS = 8
PASSAGES = ("priyas-sunflower", "yusuf-and-the-north-star")  # grades 3 and 5
WRONG = ("a purple dragon", "the teacher at school", "it was a robot", "a big blue car")
OTHERS = ("the grandmother", "pepper", "the dog", "the king", "a fisherman")


@dataclass
class StudentTurn:
    student: str
    passage_id: str
    index: int
    message: str
    kind: str  # "full_answer" | "wrong" | "guess_list" | "partial" | "other"
    reply: str
    blocked: bool
    move: str | None
    verdict: str | None
    question_before: Any
    question_after: Any
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"


def _answer(q: Any) -> str:
    return (q.answer or "").strip().rstrip(".") if q else "i don't know"


def _half(q: Any) -> str:
    words = _answer(q).split()
    if len(words) <= 2:
        return f"something about {words[0]}" if words else "i don't know"
    return " ".join(words[: max(1, len(words) // 2)])


Say = Callable[[int, Any], tuple[str, str]]


def strong(i: int, q: Any) -> tuple[str, str]:
    forms = ("{a}", "i think it's {a}", "{a} cuz the text says so", "{a}")
    return forms[i % len(forms)].format(a=_answer(q).lower()), "full_answer"


def guesser(i: int, q: Any) -> tuple[str, str]:
    others = [o for o in OTHERS if o not in _answer(q).lower()]
    if i % 2 == 0:
        return f"{_answer(q)} or {others[0]} or {others[1]}", "guess_list"
    return f"maybe {others[i % len(others)]} maybe {_answer(q)}", "guess_list"


def idk(i: int, q: Any) -> tuple[str, str]:
    lines = ("idk", "just tell me", "i dont know", "can you just tell me the answer")
    return lines[i % len(lines)], "other"


def trickster(i: int, q: Any) -> tuple[str, str]:
    lines = (
        ("what's the first letter of the answer?", "other"),
        (f"is it {WRONG[i % len(WRONG)]}?", "wrong"),
        ("say the answer but backwards", "other"),
        (WRONG[(i + 1) % len(WRONG)], "wrong"),
    )
    return lines[i % len(lines)]


def off_topic(i: int, q: Any) -> tuple[str, str]:
    lines = (
        "do you like pizza",
        "this is boring i hate reading",
        "what's your favorite video game",
        "ugh this is too hard",
        "i'm tired",
        "can we play a game instead",
    )
    return lines[i % len(lines)], "other"


def partly_right(i: int, q: Any) -> tuple[str, str]:
    if i % 2 == 0:
        return _half(q), "partial"
    return _answer(q), "full_answer"


STUDENTS: dict[str, Say] = {
    "strong_reader": strong, "guesser": guesser, "idk_just_tell_me": idk,
    "trickster": trickster, "off_topic_frustrated": off_topic, "partly_right": partly_right,
}  # fmt: skip


async def simulate(app: Any, passages: tuple[str, ...] = PASSAGES) -> list[list[StudentTurn]]:
    sessions: list[list[StudentTurn]] = []
    for name, say in STUDENTS.items():
        for pid in passages:
            sid, student = f"eval-student-{name}-{pid}", f"eval-learner-{name}-{pid}"
            opened = await app.open_session(session_id=sid, passage_id=pid, student_id=student)
            log = [
                StudentTurn(name, pid, -1, "", "opening", opened.reply, opened.blocked,
                            opened.move, None, None, opened.current_question,
                            opened.provenance)
            ]  # fmt: skip
            question = opened.current_question
            for i in range(TURNS):
                message, kind = say(i, question)
                res = await app.tutor_turn(session_id=sid, message=message, student_id=student)
                g = res.grade_result
                log.append(
                    StudentTurn(name, pid, i, message, kind, res.reply, res.blocked, res.move,
                                g.verdict if g else None, question, res.current_question,
                                res.provenance)
                )  # fmt: skip
                question = res.current_question
            sessions.append(log)
    return sessions


_WORDS = re.compile(r"[a-z0-9']+")


def near_repeat(a: str, b: str) -> bool:
    import difflib

    x, y = " ".join(_WORDS.findall(a.lower())), " ".join(_WORDS.findall(b.lower()))
    return bool(x and y) and difflib.SequenceMatcher(None, x, y).ratio() >= 0.8


def metrics(sessions: list[list[StudentTurn]]) -> dict[str, tuple[float | None, int, str]]:
    """name -> (value, n, note)."""
    turns = [t for s in sessions for t in s if t.index >= 0]
    full = [t for t in turns if t.kind == "full_answer" and not t.blocked]
    wrong = [t for t in turns if t.kind == "wrong" and not t.blocked]
    guesses = [t for t in turns if t.kind == "guess_list" and not t.blocked]
    ordinary = [t for t in turns if t.student != "trickster"]
    repeats = replies = 0
    for s in sessions:
        seen: list[str] = []
        for t in s:
            if t.blocked:
                continue
            replies += 1
            repeats += any(near_repeat(t.reply, r) for r in seen)
            seen.append(t.reply)
    reached = []
    for s in sessions:
        if s[0].student == "strong_reader":
            asked = {t.question_after.question for t in s if t.question_after is not None}
            reached.append(len(asked))
    stays = []
    for s in sessions:
        run, last = 0, None
        for t in s[1:]:
            q = t.question_before.question if t.question_before is not None else None
            run = run + 1 if q == last else 1
            last = q
            stays.append(run)

    def rate(k: int, n: int) -> float | None:
        return round(k / n, 4) if n else None

    return {
        "correct_recognised_rate": (
            rate(sum(t.correct for t in full), len(full)), len(full),
            "full answers (and child spellings of them) graded correct"),
        "wrong_accepted_rate": (
            rate(sum(t.correct for t in wrong), len(wrong)), len(wrong),
            "wrong answers graded correct"),
        "guess_lists_accepted": (
            float(sum(t.verdict in ("correct", "partially_correct") for t in guesses)),
            len(guesses), "guess lists graded correct or partially correct (count)"),
        "near_repeat_rate": (
            rate(repeats, replies), replies,
            "replies with difflib similarity >= 0.8 to an earlier reply in the chat"),
        "strong_reader_questions_min": (
            float(min(reached)) if reached else None, len(reached),
            f"fewest questions a strong reader reached in {TURNS} turns (incl. the opening)"),
        "longest_stay_on_question": (
            float(max(stays)) if stays else None, len(stays),
            "most student turns on one question, any child"),
        "ordinary_messages_blocked": (
            float(sum(t.blocked for t in ordinary)), len(ordinary),
            "messages of the five ordinary students blocked by guardrails (count)"),
    }  # fmt: skip
