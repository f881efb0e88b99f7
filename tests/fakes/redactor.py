"""A small ``Redactor`` for tests of the LLM gate: it knows which values are personal
data (no NLP), gives each a stable per-session placeholder and honours the allow-list."""

from __future__ import annotations

import re
from collections.abc import Mapping

from readloom.guardrails.base import Redaction


class MapRedactor:
    def __init__(self, entities: Mapping[str, str]) -> None:
        self.entities = dict(entities)  # value -> entity type, e.g. {"Maria": "PERSON"}
        self.vault: dict[str, dict[str, str]] = {}  # session -> value -> placeholder
        self.calls = 0

    def redact(
        self, text: str, *, session_id: str, allow_list: frozenset[str] = frozenset()
    ) -> Redaction:
        self.calls += 1
        vault = self.vault.setdefault(session_id, {})
        found: list[str] = []
        for value in sorted(self.entities, key=len, reverse=True):
            if value in allow_list:
                continue
            pattern = re.compile(re.escape(value), re.IGNORECASE)
            if not pattern.search(text):
                continue
            etype = self.entities[value]
            if value not in vault:
                n = sum(1 for v in vault if self.entities[v] == etype) + 1
                vault[value] = f"<{etype}_{n}>"
            text = pattern.sub(vault[value], text)
            found.append(etype)
        return Redaction(text=text, entities=tuple(found))

    def reidentify(self, text: str, *, session_id: str) -> str:
        for value, placeholder in self.vault.get(session_id, {}).items():
            text = text.replace(placeholder, value)
        return text

    def mask(self, text: str, *, allow_list: frozenset[str] = frozenset()) -> Redaction:
        found: list[str] = []
        for value in sorted(self.entities, key=len, reverse=True):
            pattern = re.compile(re.escape(value), re.IGNORECASE)
            if value not in allow_list and pattern.search(text):
                text = pattern.sub("[removed]", text)
                found.append(self.entities[value])
        return Redaction(text=text, entities=tuple(found))
