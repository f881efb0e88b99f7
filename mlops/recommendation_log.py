"""The served-recommendation log the monitor reads for the recommendation mix.

Every next step the API serves (a student's own, or each row of a class view) is one
row: tenant, passage, skill, kind and recommender policy, and no student. The monitor
compares the share of each passage between windows, which is how a recommender that
starts sending every child to one passage ("How Volcanoes Form") shows up as drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from readloom.storage.models_mlops import RecommendationEvent


async def log_recommendations(s: AsyncSession, tenant: str, recs: Iterable[Any]) -> int:
    """Add one row per served recommendation (``RecommendationOut``) to the caller's
    transaction; returns how many."""
    rows = [
        RecommendationEvent(
            tenant_id=tenant,
            passage_id=r.passage_id,
            skill_id=r.skill_id,
            kind=r.kind,
            policy=str((r.provenance or {}).get("policy") or "") or None,
        )  # fmt: skip
        for r in recs
        if r is not None
    ]
    s.add_all(rows)
    return len(rows)
