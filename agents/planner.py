"""Planner: classify the turn and write a typed plan (tools, pedagogical move, tier).

Classification is rule-based on purpose: it runs on every turn, must be fast and
predictable for children, and never needs a model call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypedDict

from langgraph.runtime import Runtime

from readloom.agents.services import Services
from readloom.llm.offline.grading import is_guess_list, normalise
from readloom.state import Intent, Move, Plan, TurnContext, TurnState, TutorPolicy

_ANSWER_DEMAND = re.compile(
    r"\b(just|pls|please|plz)?\s*(tell|give|say)\s+(me\s+)?(the\s+)?(answer|anser|awnser)"
    r"|\bwhat('?s| is) the (answer|anser)\b|\bjust tell me\b",
    re.I,
)
_HELP = re.compile(
    r"\b(i\s*(do\s*n[o']?t|dont|dunno|don't) (get|know|understand)|idk|help|hint|confused|"
    r"what do(es)? (that|it) mean|i'?m stuck|no idea|not sure)\b",
    re.I,
)
# "what does crowded mean?", "what's a barometer?", "what is the word flared"
_WORD_QUESTION = re.compile(
    r"\bwhat(?:'s| is| does| do)? (?:the word |a |an )?[\"'“]?([a-z][a-z-]+)[\"'”]? mean\b"
    r"|\bwhat(?:'s| is) (?:a |an )[\"'“]?([a-z][a-z-]+)[\"'”]?\s*\?\s*$"
    r"|\bwhat does the word [\"'“]?([a-z][a-z-]+)",
    re.I,
)
_SELF_INTRO = re.compile(
    r"^\W*(hi|hello|hey)?\W*(my name is|my name's|i am|i'm|im|call me)\s+(<PERSON_\d+>|\w+)\W*$",
    re.I,
)
_TENTATIVE = re.compile(r"^\W*(is it|was it|maybe|i think)\b", re.I)
_FRUSTRATION = re.compile(
    r"\b(i give up|this is (so |really |too )?(stupid|dumb|boring|hard)|i hate (this|reading|it)|"
    r"ugh+|boring|i'?m (so |really )?(bored|tired)|i can'?t do (this|it)|"
    r"i'?m (so )?(dumb|stupid|bad at this)|whatever|forget it|too hard)\b",
    re.I,
)
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|yo|good (morning|afternoon)|ready|start|ok(ay)?)\b", re.I
)
_OFF_TOPIC = re.compile(
    r"\b(minecraft|fortnite|roblox|youtube|tiktok|lunch|recess|video ?games?|pokemon|"
    r"soccer|football|my (dog|cat)|birthday party|what'?s your name|are you (a )?(robot|ai))\b",
    re.I,
)


class PlannerUpdate(TypedDict):
    plan: Plan


def classify(message: str, *, has_question: bool, key: str = "") -> Intent:
    """Map a redacted student message to an intent (the grader refines answer attempts:
    a real attempt may still turn out to be off-topic or a feeling)."""
    text = normalise(message.strip())
    if _ANSWER_DEMAND.search(text):
        return "answer_demand"
    if _WORD_QUESTION.search(text):
        return "word_question"
    if _FRUSTRATION.search(text):
        return "frustration"
    if has_question and is_guess_list(text, key):
        return "guess_list"
    if _HELP.search(text):
        return "help_request"
    if _OFF_TOPIC.search(text):
        return "off_topic"
    if _SELF_INTRO.match(text):
        return "greeting"
    if not has_question or (_GREETING.match(text) and len(text.split()) <= 3):
        return "greeting"
    if text.endswith("?") and not _TENTATIVE.match(text):
        return "question_about_text"
    return "answer_attempt"


_MOVES: dict[Intent, Move] = {
    "answer_attempt": "hint",  # becomes "affirm" when the evaluator grades it correct
    "help_request": "hint",
    "answer_demand": "hint",
    "off_topic": "redirect",
    "frustration": "encourage",
    "greeting": "ask_question",
    "question_about_text": "answer_question",
    "word_question": "answer_question",
    "guess_list": "ask_to_choose",
    "generate_questions": "ask_question",
}


def plan_turn(
    state: TurnState, policy: TutorPolicy | None = None, arms: dict[str, str] | None = None
) -> Plan:
    """The turn's plan; a tutoring plan carries the learner's experiment ``policy`` (what
    the executor, the intervention and the routers apply) and the ``arms`` it came from."""
    if state.get("mode") == "questions":
        return Plan(
            intent="generate_questions",
            move="ask_question",
            tools=["retriever"],
            rationale="teacher asked for questions",
        )
    question = state.get("current_question")
    if state.get("opening"):
        intent: Intent = "greeting"
    else:
        key = question.answer if question else ""
        intent = classify(state.get("message", ""), has_question=bool(question), key=key)
    tools: list = ["retriever"]
    if intent == "answer_attempt":
        tools += ["mastery"]
    if intent == "greeting":
        tools += ["mastery", "prerequisites"]
    return Plan(
        intent=intent, move=_MOVES[intent], tools=tools, rationale=f"intent={intent}",
        policy=policy or TutorPolicy(), arms=dict(arms or {}),
    )  # fmt: skip


def make_planner(svc: Services) -> Callable[..., Awaitable[PlannerUpdate]]:
    async def planner(state: TurnState, runtime: Runtime[TurnContext]) -> PlannerUpdate:
        ctx = runtime.context
        return {"plan": plan_turn(state, ctx.policy, ctx.arms)}

    return planner
