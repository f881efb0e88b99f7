"""Output check: is a model reply fit for this student's grade?

No banned topics for the grade (sexual content, profanity and slurs always; alcohol, gore,
drugs and gambling below grade 6), and a reading level not far above the student's grade
(the repo's calibrated grade estimate, from ``retrieval.readability``).
"""

from __future__ import annotations

import re

from readloom.guardrails.base import GuardContext, GuardResult
from readloom.guardrails.safety import REPLIES

I = re.IGNORECASE  # noqa: E741

# Never in a reply to a child, whatever the grade.
BANNED_ALWAYS = re.compile(
    r"\b(?:porn\w*|xxx|nudes?|naked|sexy|sexual(?:ly)?|sex|orgasm\w*|erotic\w*|masturbat\w*"
    r"|f+u+c+k\w*|sh[i1]t+\w*|b[i1]tch\w*|cunt|asshole|motherf\w*|n[i1]gg\w*|f[a@]gg?ot\w*"
    r"|retard(?:ed)?|cocaine|heroin|meth(?:amphetamine)?|get\s+high|get\s+drunk"
    r"|how\s+to\s+(?:kill|hurt|cut)\s+(?:yourself|your\s*self)|overdose\s+on|suicide\s+method\w*)\b",
    I,
)
# Fine for teenagers' literature discussion, not for young children.
BANNED_BELOW_GRADE_6 = re.compile(
    r"\b(?:gore|gory|decapitat\w*|dismember\w*|disembowel\w*|torture[sd]?|rape[sd]?|raping"
    r"|suicide|self-harm|beer|vodka|whiskey|drunk|cigarettes?|vap(?:e|ing)|marijuana|weed"
    r"|gambl\w*|casino)\b",
    I,
)
MIN_WORDS_FOR_LEVEL = 30


def reading_grade(text: str) -> float:
    """The repo's calibrated grade estimate (falls back to Flesch-Kincaid without its model)."""
    from readloom.retrieval import readability

    try:
        return readability.estimate_grade(text)
    except FileNotFoundError:
        return readability.flesch_kincaid_grade(text)


class AgeAppropriatenessGuard:
    """Output guard: no banned topics for the student's grade; reading level near the grade."""

    name = "age_appropriate"

    def __init__(self, *, grade_margin: float = 3.0):
        self.grade_margin = grade_margin

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        if BANNED_ALWAYS.search(text) or (ctx.grade < 6 and BANNED_BELOW_GRADE_6.search(text)):
            return GuardResult(
                text=text,
                allowed=False,
                risk=1.0,
                reason="age_inappropriate",
                severity="medium",
                scripted_reply=REPLIES["unsafe_request"],
            )
        words = re.findall(r"[A-Za-z']+", text)
        if len(words) >= MIN_WORDS_FOR_LEVEL:
            grade = reading_grade(text)
            if grade > ctx.grade + self.grade_margin:
                return GuardResult(
                    text=text,
                    allowed=False,
                    risk=round(min(1.0, (grade - ctx.grade) / 10), 3),
                    reason="reading_level",
                    severity="low",
                )
        return GuardResult(text=text, allowed=True, risk=0.0)
