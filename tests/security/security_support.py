"""Constants and helpers the attack tests share (imported by name: ``conftest.py`` puts this
folder on ``sys.path``)."""

from __future__ import annotations

import re
from typing import Any

HINT = "Look again at the part of the story about the storm. What do you notice?"
# What a teacher pastes: an essay with a child's personal data in it.
PASTED = (
    "My Summer by Maria Gonzalez, grade 4, Lincoln Elementary, student id 48213, "
    "maria.gonzalez12@gmail.com. This summer my family drove to the lake. We swam every "
    "morning and my little brother Mateo caught a fish as long as his arm. At night we "
    "looked at the stars and my grandmother told us stories about the old farm."
)
PASTED_VALUES = ("Maria Gonzalez", "Gonzalez", "48213", "maria.gonzalez12", "Mateo")


def leaked(values: Any, text: str) -> list[str]:
    """The values that occur in ``text`` as whole words (case-insensitive)."""
    return [v for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text, re.I)]


def new_session(client: Any, passage_id: str, grade: int = 4) -> str:
    r = client.post("/v1/sessions", json={"grade": grade, "passage_id": passage_id})
    assert r.status_code == 201, r.text
    return r.json()["id"]
