"""The services every node is bound to at build time (never read from globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from readloom.guardrails import GuardrailSuite
    from readloom.llm.gate import LLMGate
    from readloom.retrieval.models import Passage
    from readloom.retrieval.store import PassageStore
    from readloom.settings import Settings
    from readloom.tools.mastery import MasteryStore
    from readloom.tools.prerequisites import SkillGraph


@dataclass
class Services:
    settings: Settings
    gate: LLMGate
    store: PassageStore
    guards: GuardrailSuite
    skills: SkillGraph
    mastery: MasteryStore

    def allow_list(self, passage: Passage) -> frozenset[str]:
        """Story characters of a shipped or admin-reviewed passage (guardrails decide)."""
        return self.guards.allow_list_for(passage)

    def model_view(self, passage: Passage, session_id: str) -> str:
        """The passage text as the model saw it: redacted with the session's pseudonyms
        (a pasted text's names are ``<PERSON_1>`` there), so evidence a model quotes is
        checked against what it was given. Re-identification is for the viewer, later."""
        redactor = getattr(self.gate, "redactor", None)
        if redactor is None or not hasattr(redactor, "redact"):
            return passage.text
        return redactor.redact(
            passage.text, session_id=session_id, allow_list=self.allow_list(passage)
        ).text
