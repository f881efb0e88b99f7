"""The offline tier: rule-based questions and Socratic tutoring from spaCy parses."""

from readloom.llm.offline.leak import answer_leaks
from readloom.llm.offline.provider import OfflineProvider

__all__ = ["OfflineProvider", "answer_leaks"]
