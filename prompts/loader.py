"""Versioned prompt templates: ``prompts/<name>/v<N>.yaml``, validated on load.

A released version is never edited: add ``v2`` and let the evals compare. The
``name@version`` of every prompt used is recorded in the answer's provenance.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from readloom.errors import ReadloomError
from readloom.llm.base import ChatMessage

PROMPTS_DIR = Path(__file__).resolve().parent


class MissingVariables(ReadloomError):
    code = "prompt_missing_variables"


class PromptTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: int
    description: str = ""
    variables: list[str]
    system: str
    user: str

    @property
    def ref(self) -> str:
        return f"{self.id}@v{self.version}"

    def render(self, **values: Any) -> list[ChatMessage]:
        """Fill the template; a missing variable raises instead of sending half a prompt."""
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise MissingVariables(f"prompt {self.ref} is missing variables: {', '.join(missing)}")
        text_values = {k: DATA_TAG.sub("[tag]", _as_text(v)) for k, v in values.items()}
        return [
            ChatMessage(role="system", content=_fill(self.system, text_values)),
            ChatMessage(role="user", content=_fill(self.user, text_values)),
        ]


# The tags that delimit data in a prompt: a value may not open or close one of them.
DATA_TAG = re.compile(r"<\s*/?\s*(?:passage_title|passage|excerpts|student_message)\s*>", re.I)


def _as_text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list | tuple):
        return "\n".join(f"- {_as_text(v)}" for v in value) or "(none)"
    return str(value)


def _fill(template: str, values: dict[str, str]) -> str:
    return string.Template(template).substitute(values)


@lru_cache(maxsize=64)
def load_prompt(name: str, version: int | None = None) -> PromptTemplate:
    """Load ``name`` at ``version`` (default: the highest released version)."""
    folder = PROMPTS_DIR / name
    files = sorted(folder.glob("v*.yaml"), key=lambda p: int(p.stem[1:]))
    if not files:
        raise ReadloomError(f"no prompt named {name!r}", code="prompt_not_found")
    path = folder / f"v{version}.yaml" if version else files[-1]
    if not path.exists():
        raise ReadloomError(f"prompt {name!r} has no version {version}", code="prompt_not_found")
    template = PromptTemplate.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    if template.id != name or f"v{template.version}" != path.stem:
        raise ReadloomError(f"prompt file {path.name} does not match its id/version")
    return template
