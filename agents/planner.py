"""Planner: classify the turn and write a typed plan (tools, pedagogical move, tier).

Classification is rule-based on purpose: it runs on every turn, must be fast and
predictable for children, and never needs a model call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypedDict

from readloom.agents.services import Services
from readloom.state import Intent, Move, Plan, TurnState

_ANSWER_DEMAND = re.compile(
    r"\b(just|pls|please|plz)?\s*(tell|give|say)\s+(me\s+)?(the\s+)?(answer|anser|awnser)"
    r"|\bwhat('?s| is) the (answer|anser)\b|\bjust tell me\b",
    re.I,
)
_HELP = re.compile(
    r"\b(i\s*(do\s*n[o']?t|dont|dunno|don't) (get|know|understand)|idk|help|hint|confused|"
    r"what do(es)? (that|it) mean|i'?m stuck|no idea)\b",
    re.I,
)
_FRUSTRATION = re.compile(
    r"\b(i give up|this is (so )?(stupid|dumb|boring|hard)|i hate (this|reading)|ugh+|"
    r"i can'?t do (this|it)|i'?m (so )?(dumb|stupid|bad at this)|whatever|forget it)\b",
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


def classify(message: str, *, has_question: bool) -> Intent:
    """Map a redacted student message to an intent."""
    text = message.strip()
    if _ANSWER_DEMAND.search(text):
        return "answer_demand"
    if _FRUSTRATION.search(text):
        return "frustration"
    if _HELP.search(text):
        return "help_request"
    if _OFF_TOPIC.search(text):
        return "off_topic"
    if not has_question or (_GREETING.match(text) and len(text.split()) <= 3):
        return "greeting"
    if text.endswith("?"):
        return "question_about_text"
    return "answer_attempt"


_MOVES: dict[Intent, Move] = {
    "answer_attempt": "hint",  # becomes "affirm" when the evaluator grades it correct
    "help_request": "hint",
    "answer_demand": "hint",
    "off_topic": "redirect",
    "frustration": "encourage",
    "greeting": "ask_question",
    "question_about_text": "probe",
    "generate_questions": "ask_question",
}


def plan_turn(state: TurnState) -> Plan:
    if state.get("mode") == "questions":
        return Plan(
            intent="generate_questions",
            move="ask_question",
            tools=["retriever"],
            rationale="teacher asked for questions",
        )
    intent = classify(state.get("message", ""), has_question=bool(state.get("current_question")))
    tools: list = ["retriever"]
    if intent == "answer_attempt":
        tools += ["mastery"]
    if intent == "greeting":
        tools += ["mastery", "prerequisites"]
    return Plan(intent=intent, move=_MOVES[intent], tools=tools, rationale=f"intent={intent}")


def make_planner(svc: Services) -> Callable[[TurnState], Awaitable[PlannerUpdate]]:
    async def planner(state: TurnState) -> PlannerUpdate:
        return {"plan": plan_turn(state)}

    return planner
