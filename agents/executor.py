"""Executor: runs the plan's tools, then the generation step through the LLM gate.

Tutoring: grade an answer attempt (and update mastery), pick the next question from
the student's skill frontier, retrieve the passage spans, draft the reply. Teachers:
draft comprehension questions for the passage.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

from langgraph.runtime import Runtime

from readloom.agents.evaluator import accepted_questions
from readloom.agents.services import Services
from readloom.llm.base import ChatMessage, LLMRequest
from readloom.llm.offline.mix import inference_share
from readloom.llm.offline.nlp import stable_index
from readloom.prompts.loader import load_prompt
from readloom.retrieval.models import Passage
from readloom.state import (
    Draft,
    Grade,
    Move,
    Question,
    QuestionSet,
    TurnContext,
    TurnState,
    TutorPolicy,
)

QUESTION_POOL = 8  # questions drafted per passage for a tutoring session
RECENT_REPLIES = 8  # the offline tier avoids the wording of this many earlier replies
PRAISE = "Yes, that's right. Well done finding it in the text!"
OPENING = (
    "Hi! I'm your reading helper. Let's read \"{title}\" together.",
    "Hello! Today we're reading \"{title}\". I'll ask you questions about it.",
    'Hi there! Let\'s think about "{title}" together.',
)


class ExecutorUpdate(TypedDict, total=False):
    draft: Draft
    questions: list[Question]
    spans: list[dict]
    current_question: Question | None
    asked: list[str]
    grade_result: Grade | None
    attempts: int
    tries: int
    hint_level: int
    alternate_used: bool
    assisted_items: int


async def draft_questions(
    svc: Services,
    passage: Passage,
    *,
    count: int,
    grade: int,
    types: list[str] | None,
    session_id: str,
    choices: bool = False,
    tenant: str,
    offline_only: bool = False,
    student_id: str | None = None,
) -> Draft:
    """Ask the gate for questions; cacheable, since the redacted request is identical."""
    prompt = load_prompt("questions")
    variables: dict[str, Any] = {
        "passage_title": passage.title,
        "passage_text": passage.text,
        "count": count,
        "grade": grade,
        "types": types or [],  # none: the grade's mix for the passage's kind
        "choices": choices,
        "inference_share": f"{round(inference_share(grade) * 100)}%",
    }
    req = LLMRequest(
        task="questions",
        messages=prompt.render(**variables),
        variables=variables,
        prompt_id=prompt.ref,
        output_schema=QuestionSet,
        tenant=tenant,
        cacheable=True,
        max_tokens=1500,
        only_providers=["offline"] if offline_only else None,
    )
    result = await svc.gate.generate(
        req, session_id=session_id, allow_list=svc.allow_list(passage), student_id=student_id
    )  # student_id: usage ledger attribution, for the cost report
    parsed = result.parsed if isinstance(result.parsed, QuestionSet) else QuestionSet(questions=[])
    provenance = result.provenance.model_dump() | {"passage_ids": [passage.passage_id]}
    return Draft(text=result.text, questions=parsed.questions, provenance=provenance)


def _next_question(
    svc: Services,
    pool: list[Question],
    asked: list[str],
    student: str,
    policy: TutorPolicy | None = None,
) -> Question | None:
    """Prefer a question whose skill is on the student's frontier, least mastered first;
    an experiment arm with ``question_order: passage`` asks them in the text's order."""
    fresh = [q for q in pool if q.question not in asked]
    if not fresh:
        return None
    if policy is not None and policy.question_order == "passage":
        return fresh[0]
    mastery = svc.mastery.get(student)
    return min(fresh, key=lambda q: (mastery.get(q.skill, 0.0) >= 0.95, mastery.get(q.skill, 0.0)))


async def _tutor_reply(
    svc: Services,
    state: TurnState,
    ctx: TurnContext,
    passage: Passage,
    *,
    move: Move,
    question: Question | None,
    spans: list[dict],
    hint_level: int,
    correct: bool | None,
    offline_only: bool = False,
    variant: int = 0,
) -> Draft:
    name = "explain" if move == "alternate_explanation" else "tutor_reply"
    plan = state.get("plan")
    policy = plan.policy if plan is not None else TutorPolicy()
    arm_prompt, _, arm_version = (policy.prompt or "").partition("@v")
    prompt = load_prompt(name, int(arm_version) if arm_prompt == name else None)
    hint_level = policy.rung(hint_level)
    variables: dict[str, Any] = {
        "grade": state.get("grade", 5),
        "passage_title": passage.title,
        "excerpts": [s["text"] for s in spans],
        "question": question.question if question else None,
        "answer": question.answer if question else None,
        "evidence": question.evidence if question else None,
        "move": move,
        "hint_level": hint_level,
        "student_message": state.get("message", ""),
        "student_correct": correct,
    }
    messages = prompt.render(**variables)
    variables["variant"] = variant  # offline tier: pick other wording (no repeats)
    variables["recent"] = [  # offline tier: and not the wording of the last few replies
        t.text for t in state.get("history", []) if t.role == "tutor"
    ][-RECENT_REPLIES:]
    verdict = state.get("verdict")
    if verdict and verdict.action == "revise":
        note = "Your previous reply had these problems: " + ", ".join(verdict.problems)
        messages.append(ChatMessage(role="user", content=note + ". Write a new reply."))
        variables["revision"] = state.get("revisions", 0)
    req = LLMRequest(
        task="explain" if name == "explain" else "tutor_reply",
        messages=messages,
        variables=variables,
        prompt_id=prompt.ref,
        tenant=ctx.tenant,
        max_tokens=300,
        only_providers=["offline"] if offline_only else _arm_providers(policy),
    )
    result = await svc.gate.generate(
        req, session_id=state["session_id"], allow_list=svc.allow_list(passage),
        student_id=ctx.student_id,
    )  # fmt: skip
    provenance = result.provenance.model_dump() | {
        "passage_ids": sorted({s["passage_id"] for s in spans})
    }
    return Draft(text=result.text, provenance=provenance, move=move)


def _arm_providers(policy: TutorPolicy) -> list[str] | None:
    """An arm's provider first, the offline tier after it: an arm never strands a child."""
    if policy.provider is None:
        return None
    return list(dict.fromkeys([policy.provider, "offline"]))


async def _retrieve(
    svc: Services, passage: Passage, question: Question | None, message: str | None
) -> list[dict]:
    """Excerpts for the turn: words matched on the question and the student's message;
    meaning matched on the question alone, whose vector is reused turn after turn (the
    embedding is the costliest step of retrieval). Run off the event loop."""
    query = " ".join(filter(None, [question and question.question, message])) or passage.title
    spans = await asyncio.to_thread(
        svc.store.search,
        query,
        k=svc.settings.retrieval_k,
        passage_id=passage.passage_id,
        dense_query=question.question if question else None,
    )
    return [s.model_dump() for s in spans]


async def run_tutor(svc: Services, state: TurnState, ctx: TurnContext) -> ExecutorUpdate:
    """The reply for the move the planner and grader chose (grading already ran)."""
    passage = svc.store.get(state["passage_id"])
    plan = state["plan"]
    question = state.get("current_question")
    graded = state.get("grade_result")
    move: Move = plan.move
    spans = await _retrieve(svc, passage, question, state.get("message"))
    if question is None or (move == "ask_question" and plan.intent != "greeting"):
        return await _ask_next(svc, state, ctx, passage, {}, spans)
    if move == "answer_question":  # the child's own question: look up *their* words
        own = await _retrieve(svc, passage, None, state.get("message"))
        spans = own + [s for s in spans if s not in own]
    # (a greeting mid-question: say hello and ask the same question again)
    draft = await _tutor_reply(
        svc, state, ctx, passage, move=move, question=question, spans=spans,
        hint_level=state.get("hint_level", 0), correct=graded.correct if graded else None,
    )  # fmt: skip
    update: ExecutorUpdate = {"spans": spans}
    if move == "affirm":
        follow = await _ask_next(svc, state, ctx, passage, {}, spans)
        praise = _without_leaks(draft.text, follow.get("current_question"))
        text = f"{praise}\n\n{follow['draft'].text}"
        draft = Draft(text=text, provenance=draft.provenance, move="affirm")
        update |= {k: v for k, v in follow.items() if k != "draft"}
    update["draft"] = draft
    return update


def _without_leaks(praise: str, upcoming: Question | None) -> str:
    """The praise for an answer may quote the sentence that backs it up; when that sentence
    also gives away the *next* question's answer, the quote goes (the praise stays)."""
    if upcoming is None:
        return praise
    from readloom.guardrails.obfuscation import leak_views
    from readloom.llm.offline.leak import answer_leaks

    def leaks(text: str) -> bool:
        return any(answer_leaks(v, upcoming.answer, upcoming.question) for v in leak_views(text))

    if not leaks(praise):
        return praise
    kept = [s for s in re.split(r"(?<=[.!?])\s+", praise) if s and not leaks(s)]
    return " ".join(kept) or PRAISE


async def _ask_next(
    svc: Services,
    state: TurnState,
    ctx: TurnContext,
    passage: Passage,
    update: ExecutorUpdate,
    spans: list[dict],
) -> ExecutorUpdate:
    pool = await draft_questions(
        svc,
        passage,
        count=QUESTION_POOL,
        grade=state.get("grade", 5),
        types=None,
        session_id=state["session_id"],
        tenant=ctx.tenant,
        student_id=ctx.student_id,
    )
    plan = state.get("plan")
    question = await asyncio.to_thread(  # it reads the student's mastery: off the loop
        _next_question, svc, pool.questions, state.get("asked", []), ctx.student_id,
        plan.policy if plan is not None else None,
    )  # fmt: skip
    spans = await _retrieve(svc, passage, question, None) if question else spans
    draft = await _tutor_reply(
        svc,
        state,
        ctx,
        passage,
        move="ask_question",
        question=question,
        spans=spans,
        hint_level=0,
        correct=None,
    )
    if state.get("opening"):
        title = passage.title.strip()
        hello = OPENING[stable_index(len(OPENING), state["session_id"])].format(title=title)
        draft = draft.model_copy(update={"text": f"{hello} {draft.text}"})
    return update | {
        "draft": draft,
        "spans": spans,
        "current_question": question,
        "asked": [question.question] if question else [],
        "attempts": 0,
        "tries": 0,
        "hint_level": 0,
        "alternate_used": False,
    }


async def run_questions(
    svc: Services, state: TurnState, ctx: TurnContext, *, offline_only: bool = False
) -> ExecutorUpdate:
    passage = svc.store.get(state["passage_id"])
    count = state.get("count", 5)
    draft = await draft_questions(
        svc,
        passage,
        count=count + state.get("revisions", 0) * 2,
        grade=state.get("grade", passage.grade),
        types=state.get("types"),
        session_id=state["session_id"],
        tenant=ctx.tenant,
        offline_only=offline_only,
        choices=bool(state.get("choices")),
    )
    return {"draft": draft, "spans": []}


async def redraft(
    svc: Services, state: TurnState, ctx: TurnContext, *, offline_only: bool
) -> ExecutorUpdate:
    """Write the reply again after a verdict. The tools already ran this turn (the answer
    is graded, mastery updated), so only the generation step is repeated."""
    previous = state.get("draft")
    move = previous.move if previous and previous.move else "hint"
    graded = state.get("grade_result")
    draft = await _tutor_reply(
        svc,
        state,
        ctx,
        svc.store.get(state["passage_id"]),
        move="ask_question" if move in ("affirm", "worked_explanation") else move,  # type: ignore[arg-type]
        question=state.get("current_question"),
        spans=state.get("spans", []),
        hint_level=state.get("hint_level", 0),
        correct=graded.correct if graded else None,
        offline_only=offline_only,
        variant=state.get("revisions", 0),
    )
    if move == "affirm":  # the student was right: the praise survives the rewrite
        draft = draft.model_copy(update={"text": f"{PRAISE} {draft.text}", "move": "affirm"})
    if move == "worked_explanation" and previous is not None:  # keep the explanation
        kept = previous.text.split("\n\n")[0]
        draft = draft.model_copy(
            update={"text": f"{kept}\n\n{draft.text}", "move": "worked_explanation"}
        )
    return {"draft": draft}


def make_executor(svc: Services) -> Callable[..., Awaitable[ExecutorUpdate]]:
    async def executor(state: TurnState, runtime: Runtime[TurnContext]) -> ExecutorUpdate:
        if state.get("mode") == "questions":
            return await run_questions(svc, state, runtime.context)
        return await run_tutor(svc, state, runtime.context)

    return executor


def make_redraft(svc: Services) -> Callable[..., Awaitable[ExecutorUpdate]]:
    """The evaluator asked for a revision: write the reply again (tools do not rerun)."""

    async def redraft_node(state: TurnState, runtime: Runtime[TurnContext]) -> ExecutorUpdate:
        if state.get("mode") == "questions":
            return await run_questions(svc, state, runtime.context)
        return await redraft(svc, state, runtime.context, offline_only=False)

    return redraft_node


def make_offline_fallback(svc: Services) -> Callable[..., Awaitable[ExecutorUpdate]]:
    """After a rejected draft, answer from the deterministic offline tier (still via the gate)."""

    async def offline_fallback(state: TurnState, runtime: Runtime[TurnContext]) -> ExecutorUpdate:
        ctx = runtime.context
        if state.get("mode") != "questions":
            return await redraft(svc, state, ctx, offline_only=True)
        # A model's items that passed stay; the offline tier replaces the ones that failed.
        previous = state.get("draft")
        update = await run_questions(svc, state, ctx, offline_only=True)
        passage = svc.store.get(state["passage_id"])
        grade = state.get("grade", 5)
        seen = await asyncio.to_thread(svc.model_view, passage, state["session_id"])
        kept_model = [] if previous is None else accepted_questions(previous.questions, seen, grade)
        kept = accepted_questions(kept_model + update["draft"].questions, seen, grade)
        return update | {"questions": kept[: state.get("count", 5)]}

    return offline_fallback
