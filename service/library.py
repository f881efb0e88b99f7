"""Who may read which passage: the one rule the API, the CLI and the tutor share.

Shared with every tenant: the shipped corpus (identified by id *and* text, so a passage that
merely reuses a shipped id is not shipped) and passages an admin publishes. Everything else
belongs to the tenant that ingested it, and a teacher's pasted text is private to that
teacher, their classes and the tenant's admins and partner. A passage with no ownership row
is not shared: it is what a crash between claim and write leaves behind, so it fails closed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

Visibility = str  # "tenant" | "private" | "shared"
VISIBILITIES = ("tenant", "private", "shared")


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=4)
def _shipped(corpus: Path) -> dict[str, str]:
    from readloom.retrieval.passages import load_paths

    if not corpus.is_dir():
        return {}
    return {p.passage_id: text_digest(p.text) for p in load_paths([corpus], source="readloom")}


def shipped_ids(corpus: Path) -> frozenset[str]:
    """Ids of the shipped corpus (read once per process from the package data)."""
    return frozenset(_shipped(corpus))


def is_shipped(corpus: Path, passage_id: str, text: str | None = None) -> bool:
    """A shipped passage, unchanged: ``text`` (when given) must be the shipped text."""
    digest = _shipped(corpus).get(passage_id)
    return digest is not None and (text is None or digest == text_digest(text))


@dataclass(frozen=True)
class Viewer:
    tenant: str
    role: str
    subject: str | None


@dataclass(frozen=True)
class Ownership:
    tenant_id: str
    visibility: Visibility
    created_by: str | None
    ready: bool


def may_read(
    viewer: Viewer,
    owner: Ownership | None,
    *,
    shipped: bool,
    in_creators_class: bool = False,
) -> bool:
    """The visibility rule. ``in_creators_class``: the viewer is a student of a class the
    creator teaches (only asked for private passages)."""
    if owner is None:
        return shipped
    if not owner.ready:
        return False
    if owner.visibility == "shared":
        return True
    if owner.tenant_id != viewer.tenant:
        return False
    if owner.visibility == "tenant":
        return True
    # private: the creator, the tenant's admins and partner, the creator's classes
    if viewer.role in ("admin", "partner"):
        return True
    if owner.created_by is not None and viewer.subject == owner.created_by:
        return True
    return viewer.role == "student" and in_creators_class


def seal_stored(settings: object, store: object) -> list[str]:
    """Seal every tenant passage an earlier release stored as sent (the upgrade path; cheap
    when there is none: one query and one metadata read per tenant passage). Published
    passages stay as the admin reviewed them. Returns the ids sealed now."""
    from sqlalchemy import select

    from readloom.errors import NotFound
    from readloom.storage.models import TenantPassage
    from readloom.storage.stores import store_db

    with store_db(settings).read() as conn:  # type: ignore[arg-type]
        ids = [
            r[0]
            for r in conn.execute(
                select(TenantPassage.passage_id).where(TenantPassage.visibility != "shared")
            )
        ]
    done = []
    for pid in ids:
        if store.is_sealed(pid):  # type: ignore[attr-defined]
            continue
        try:
            passage = store.get(pid)  # type: ignore[attr-defined]
        except NotFound:  # claimed, never written (a crash): nothing stored to seal
            continue
        store.ingest_passages([passage], seal=True, strict=False)  # type: ignore[attr-defined]
        done.append(pid)
    if done:
        import logging

        logging.getLogger(__name__).info("sealed_stored_passages count=%d", len(done))
    return done
