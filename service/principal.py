"""Who is calling, as the application core sees it (the HTTP layer authenticates it)."""

from __future__ import annotations

from dataclasses import dataclass

from readloom.guardrails.base import Role  # the one Role literal


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant, a role and (for students and teachers) their pseudonym."""

    key_id: str
    tenant: str
    role: Role
    subject: str | None
