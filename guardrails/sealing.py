"""Tenant text at rest: a passage a district ingests (or a teacher pastes) is stored with its
personal data replaced by placeholders (``<PERSON_1>``), and the way back is kept encrypted.

Each passage is its own pseudonym namespace: the same person is the same placeholder in its
text, title, characters, topics and source, and numbering starts again in every passage. The
exact values replaced (offsets in the sealed text and the words they stood for) are a small
JSON list, encrypted with the vault key (``guardrails/keys.py``) and stored beside the
passage, so the real text comes back byte for byte, in memory only, for a reader who may see
it. Nothing derived from the real text (embeddings, chunk text, the content hash) is stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken

from readloom.errors import ReadloomError
from readloom.guardrails.pii import LABELS
from readloom.guardrails.vault import normalise

if TYPE_CHECKING:
    from readloom.guardrails.pii import PiiRedactor
    from readloom.retrieval.models import Passage

Replacement = tuple[int, int, str]  # start, end in the sealed text; the real value
_FIELDS = ("title", "source")
_LISTS = ("characters", "topics")


@dataclass
class _Namespace:
    """One passage's placeholders: a value (or a name's first or last part) -> its token."""

    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    known: dict[str, str] = field(default_factory=dict)  # real value -> token, for fields

    def token(self, label: str, value: str) -> str:
        norm = normalise(value)
        found = self.tokens.get((label, norm)) or (label == "PERSON" and self.aliases.get(norm))
        if not found:
            self.counts[label] = self.counts.get(label, 0) + 1
            found = f"<{label}_{self.counts[label]}>"
            self.tokens[(label, norm)] = found
            parts = norm.split()
            if label == "PERSON" and len(parts) > 1:
                for part in dict.fromkeys((parts[0], parts[-1])):
                    self.aliases.setdefault(part, found)
        self.known.setdefault(value.strip(), found)
        return found


def _apply(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, list[Replacement]]:
    """Replace ``(start, end, token)`` spans of ``text`` (sorted, disjoint); the
    replacements in the coordinates of the result."""
    out, reps, last, shift = [], [], 0, 0
    for start, end, token in spans:
        out.append(text[last:start])
        at = start + shift
        out.append(token)
        reps.append((at, at + len(token), text[start:end]))
        shift += len(token) - (end - start)
        last = end
    out.append(text[last:])
    return "".join(out), reps


def unseal_text(sealed: str, reps: list[Replacement]) -> str:
    """The real text back from the sealed one and its replacements."""
    out, last = [], 0
    for start, end, value in reps:
        out.append(sealed[last:start])
        out.append(value)
        last = end
    out.append(sealed[last:])
    return "".join(out)


def raw_offset(reps: list[Replacement], offset: int) -> int:
    """Where a sealed-text offset (never inside a placeholder) falls in the real text."""
    return offset + sum(len(v) - (e - s) for s, e, v in reps if e <= offset)


@dataclass(frozen=True)
class Opening:
    """A sealed passage's way back: its replacements per field."""

    text: list[Replacement]
    fields: dict[str, list[Replacement]]
    lists: dict[str, list[list[Replacement]]]

    def span(self, sealed_text: str, start: int, end: int) -> tuple[str, int, int]:
        """A chunk of the sealed text (``[start, end)``) as the reader sees it, with its
        offsets in the real text."""
        inside = [(s - start, e - start, v) for s, e, v in self.text if start <= s and e <= end]
        return (
            unseal_text(sealed_text, inside),
            raw_offset(self.text, start),
            raw_offset(self.text, end),
        )

    def passage(self, sealed: Passage) -> Passage:
        update: dict[str, Any] = {"text": unseal_text(sealed.text, self.text)}
        for name in _FIELDS:
            update[name] = unseal_text(getattr(sealed, name), self.fields.get(name, []))
        for name in _LISTS:
            values, reps = list(getattr(sealed, name)), self.lists.get(name, [])
            update[name] = [
                unseal_text(v, reps[i] if i < len(reps) else []) for i, v in enumerate(values)
            ]
        return sealed.model_copy(update=update)


class PassageSealer:
    """Seals a passage before it is stored and opens it when it is read."""

    def __init__(self, redactor: PiiRedactor, key: bytes):
        self.redactor = redactor
        self._fernet = Fernet(key)

    def seal(self, passage: Passage) -> tuple[Passage, str]:
        """The passage with placeholders for its personal data, and the encrypted way back."""
        ns = _Namespace()
        text, text_reps = self._redact(passage.text, ns)
        update: dict[str, Any] = {"text": text}
        fields: dict[str, list[Replacement]] = {}
        lists: dict[str, list[list[Replacement]]] = {}
        for name in _FIELDS:
            update[name], fields[name] = self._redact(getattr(passage, name), ns)
        # characters are names by definition: each one is a placeholder, whole
        chars = [
            (c, [(0, len(c), ns.token("PERSON", c))] if c.strip() else [])
            for c in passage.characters
        ]
        sealed_chars = [_apply(c, spans) for c, spans in chars]
        update["characters"] = [s for s, _ in sealed_chars]
        lists["characters"] = [r for _, r in sealed_chars]
        topics = [self._redact(t, ns) for t in passage.topics]
        update["topics"] = [s for s, _ in topics]
        lists["topics"] = [r for _, r in topics]
        opening = {"text": text_reps, "fields": fields, "lists": lists}
        token = self._fernet.encrypt(json.dumps(opening, ensure_ascii=False).encode())
        return passage.model_copy(update=update), token.decode()

    def opening(self, token: str) -> Opening:
        """Decrypt a passage's way back. A wrong key or a damaged value refuses: the sealed
        text is never shown as if it were the real one."""
        try:
            data = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise ReadloomError(
                "a stored passage cannot be opened with this vault key", code="passage_sealed"
            ) from exc

        def reps(rows: list[list[Any]]) -> list[Replacement]:
            return [(int(s), int(e), str(v)) for s, e, v in rows]

        return Opening(
            text=reps(data["text"]),
            fields={k: reps(v) for k, v in data["fields"].items()},
            lists={k: [reps(r) for r in v] for k, v in data["lists"].items()},
        )

    def _redact(self, text: str, ns: _Namespace) -> tuple[str, list[Replacement]]:
        if not text.strip():
            return text, []
        findings = self.redactor.analyze(text)
        spans = [
            (
                f.start,
                f.end,
                ns.token(LABELS.get(f.entity_type, f.entity_type), text[f.start : f.end]),
            )
            for f in findings
        ]
        spans += _known_values(text, ns, [(s, e) for s, e, _ in spans])
        return _apply(text, sorted(spans))


def _known_values(
    text: str, ns: _Namespace, taken: list[tuple[int, int]]
) -> list[tuple[int, int, str]]:
    """A value found elsewhere in the passage, also where the analyser missed it here (a
    name alone in a title or a topic)."""
    out: list[tuple[int, int, str]] = []
    for value, token in sorted(ns.known.items(), key=lambda kv: -len(kv[0])):
        if len(value) < 2:
            continue
        for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE):
            if not any(m.start() < e and s < m.end() for s, e in taken):
                out.append((m.start(), m.end(), token))
                taken.append((m.start(), m.end()))
    return out
