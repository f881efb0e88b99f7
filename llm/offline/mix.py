"""The question types teachers ask for, their skills and levels, and the mix per grade.

Narrative passages get FairytaleQA's seven element types (Xu et al., 2022) plus
vocabulary, main idea and theme; informational passages get key detail, cause and
effect, sequence, text structure and author's purpose plus vocabulary and central idea.
The share of inference questions rises with the grade, as the standards ask.
"""

from __future__ import annotations

from collections.abc import Iterable

from readloom.state import QuestionLevel, QuestionType

SKILLS: dict[QuestionType, str] = {
    "character": "character_traits",
    "setting": "story_elements",
    "action": "ask_answer_questions",
    "feeling": "character_traits",
    "causal_relationship": "cause_effect",
    "outcome_resolution": "sequence_events",
    "prediction": "make_inferences",
    "vocabulary": "vocab_in_context",
    "main_idea": "central_idea",
    "theme": "determine_theme",
    "key_detail": "ask_answer_questions",
    "cause_effect": "cause_effect",
    "sequence": "sequence_events",
    "text_structure": "text_structure",
    "author_purpose": "author_purpose",
    # older names
    "who": "ask_answer_questions",
    "what": "ask_answer_questions",
    "where": "ask_answer_questions",
    "when": "ask_answer_questions",
    "why": "cause_effect",
}

NARRATIVE: tuple[QuestionType, ...] = (
    "action", "causal_relationship", "feeling", "character", "vocabulary", "main_idea",
    "outcome_resolution", "prediction", "setting", "theme",
)  # fmt: skip
INFORMATIONAL: tuple[QuestionType, ...] = (
    "key_detail", "cause_effect", "vocabulary", "sequence", "main_idea",
)  # fmt: skip
# Asked for by name (--types, the API's ``types``): the tutor has no step-by-step hints
# for how a whole text is organised, so the default mix (also the tutor's pool) leaves them out.
ON_REQUEST: tuple[QuestionType, ...] = ("text_structure", "author_purpose")
# A caller's older type name asks for the types it always stood for.
ALIASES: dict[str, tuple[QuestionType, ...]] = {
    "who": ("character", "key_detail"),
    "what": ("action", "key_detail"),
    "where": ("setting", "key_detail"),
    "when": ("setting", "key_detail"),
    "why": ("causal_relationship", "cause_effect"),
    "sequence": ("sequence", "outcome_resolution"),
    "main_idea": ("main_idea",),
}
# Only one of these per set: a second "main idea" question asks the same thing.
SINGLETONS = frozenset({"main_idea", "theme", "text_structure", "author_purpose"})
ALWAYS_INFERENCE = frozenset({"prediction", "main_idea", "theme", "author_purpose"})


def inference_share(grade: int) -> float:
    """Target share of inference questions: about 1 in 5 for K-3, 2 in 5 for 4-5, half after."""
    if grade <= 3:
        return 0.2
    if grade <= 5:
        return 0.4
    return 0.5


def resolve_types(types: Iterable[str] | None, narrative: bool) -> list[QuestionType]:
    """The types a request asks for, in the passage kind's priority order."""
    order = NARRATIVE if narrative else INFORMATIONAL
    if not types:
        return list(order)
    wanted: set[str] = set()
    for t in types:
        wanted.update(ALIASES.get(t, (t,)))
    picked = [t for t in order if t in wanted]
    other = NARRATIVE + INFORMATIONAL + ON_REQUEST
    picked += [t for t in other if t in wanted and t not in picked]  # e.g. theme on prose
    return picked or list(order)


def level_of(qtype: QuestionType, stated: bool) -> QuestionLevel:
    return "inference" if qtype in ALWAYS_INFERENCE or not stated else "literal"
