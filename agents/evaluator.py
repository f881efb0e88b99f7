"""Evaluator: validates every draft before it is shown (grading is the grader's job).

A tutoring draft must be grounded in the passage, must not give the answer away and
must read at the student's level and must not repeat one of the session's last five replies; generated questions must quote their evidence
verbatim, be answerable from it and be distinct. Problems are codes, never prose.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Awaitable, Callable
from typing import TypedDict

from readloom.agents.services import Services
from readloom.guardrails.obfuscation import leak_views
from readloom.llm.offline.leak import answer_leaks
from readloom.llm.offline.mix import SKILLS
from readloom.llm.offline.standalone import answer_problem, evidence_supports
from readloom.retrieval.readability import flesch_kincaid_grade
from readloom.state import Draft, Question, TurnState, Verdict

_WORD = re.compile(r"[a-z0-9']+")
_STOP = frozenset(
    (
        "a an the and or but of to in on at by for with from is are was were be been it its he "
        "she they them his her their i you we me my your our this that these those so because as "
        "did do does what who where when why how which there here then than into out up down not "
        "no yes had has have will would can could just very"
    ).split()
)
READING_MARGIN = 3.0  # grades above the student's grade a reply may read at
REPEAT_WINDOW = 5  # a reply must differ from each of the session's last five
REPEAT_SIMILARITY = 0.8


class EvaluatorUpdate(TypedDict, total=False):
    verdict: Verdict
    revisions: int
    questions: list[Question]


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def near_repeat(a: str, b: str) -> bool:
    """Identical or near-identical replies (difflib ratio on normalised words)."""
    x, y = " ".join(_WORD.findall(a.lower())), " ".join(_WORD.findall(b.lower()))
    if not x or not y:
        return False
    if x == y:
        return True
    m = difflib.SequenceMatcher(None, x, y)  # each bound is >= the next: exact, cheaper first
    return all(r() >= REPEAT_SIMILARITY for r in (m.real_quick_ratio, m.quick_ratio, m.ratio))


def _repeats(text: str, state: TurnState) -> bool:
    recent = [t.text for t in state.get("history", []) if t.role == "tutor"][-REPEAT_WINDOW:]
    return any(near_repeat(text, r) for r in recent)


def _grounded(text: str, spans: list[dict]) -> bool:
    """A reply is grounded when it shares content words with the retrieved passage text."""
    if not spans:
        return False
    source = content_words(" ".join(s["text"] for s in spans))
    return len(content_words(text) & source) >= 2


def check_tutor_draft(draft: Draft, state: TurnState) -> list[str]:
    problems: list[str] = []
    question = state.get("current_question")
    plan = state.get("plan")
    text = draft.text.strip()
    if not text:
        return ["empty"]
    affirming = bool(plan and plan.move == "affirm") or draft.move == "worked_explanation"
    if (
        question
        and not affirming
        and any(  # also spelled out, reversed, base64, homoglyphs
            answer_leaks(v, question.answer, question.question) for v in leak_views(text)
        )
    ):
        problems.append("answer_leak")
    if _repeats(text, state):
        problems.append("repeat")
    gentle = plan and plan.move in ("encourage", "ask_to_choose")
    if not _grounded(text, state.get("spans", [])) and not gentle:
        problems.append("ungrounded")
    grade = state.get("grade", 5)
    if len(text.split()) > 25 and flesch_kincaid_grade(text) > grade + READING_MARGIN:
        problems.append("reading_level")
    return problems


def check_question(q: Question, passage_text: str, grade: int) -> list[str]:
    """The same checks for every provider's questions: evidence verbatim, answer supported
    by it and standing alone, type and skill consistent, readable at the grade."""
    problems: list[str] = []
    if not q.evidence or q.evidence.strip() not in passage_text:
        problems.append("evidence_not_in_text")
    if not evidence_supports(q):
        problems.append("answer_not_supported")
    standing = answer_problem(q.answer, q.evidence, q.question, q.type)
    if standing:
        problems.append(standing)
    if SKILLS.get(q.type) != q.skill:
        problems.append("type_skill_mismatch")
    if q.choices and (len(q.choices) != 4 or q.answer not in q.choices):
        problems.append("bad_choices")
    if flesch_kincaid_grade(q.question) > grade + READING_MARGIN + 2:
        problems.append("reading_level")
    return problems


def accepted_questions(questions: list[Question], passage_text: str, grade: int) -> list[Question]:
    """Keep questions that pass every check, dropping near-duplicates."""
    kept: list[Question] = []
    seen: list[set[str]] = []
    for q in questions:
        if check_question(q, passage_text, grade):
            continue
        words = content_words(q.question)
        if any(len(words & s) / max(1, len(words | s)) > 0.8 for s in seen):
            continue
        seen.append(words)
        kept.append(q)
    return kept


def make_evaluator(svc: Services) -> Callable[[TurnState], Awaitable[EvaluatorUpdate]]:
    max_revisions = svc.settings.max_revisions

    async def evaluator(state: TurnState) -> EvaluatorUpdate:
        draft = state.get("draft")
        revisions = state.get("revisions", 0)
        if draft is None:
            return {"verdict": Verdict(action="reject", problems=["no_draft"])}
        if state.get("mode") == "questions":
            passage = svc.store.get(state["passage_id"])
            seen = await asyncio.to_thread(svc.model_view, passage, state["session_id"])
            kept = accepted_questions(draft.questions, seen, state.get("grade", 5))
            want = state.get("count", 5)
            offline = draft.provenance.get("provider") == "offline"
            if len(kept) >= want or (kept and offline and revisions >= max_revisions):
                return {"verdict": Verdict(action="accept"), "questions": kept[:want]}
            problems = ["too_few_valid_questions"]
            if not offline and revisions >= min(1, max_revisions):
                # a model's failing items were revised once: the offline tier replaces them
                return {"verdict": Verdict(action="reject", problems=problems)}
        else:
            problems = check_tutor_draft(draft, state)
            if not problems:
                return {"verdict": Verdict(action="accept")}
        if revisions >= max_revisions:
            return {"verdict": Verdict(action="reject", problems=problems)}
        return {"verdict": Verdict(action="revise", problems=problems), "revisions": revisions + 1}

    return evaluator
