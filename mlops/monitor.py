"""``readloom monitor``: inputs, outputs and predictions of a current window against a
reference window (see ``mlops/drift.py`` for the statistics and thresholds).

Events come from the app database (stored redacted messages with their meta, the
catalogue's reading level of the passages ingested in the window, the served
recommendations, and the mastery store's graded responses with the estimate made before
each) or from JSON Lines
exports, one event per line: ``{"kind": "message", "text": ..., "reply": ..., "move":
..., "provider": ..., "blocked": ..., "block_reason": ...}``, ``{"kind": "passage",
"grade": 4.2}``, ``{"kind": "prediction", "predicted": 0.7, "correct": 1}``,
``{"kind": "recommendation", "passage_id": "..."}``. Only derived numbers and codes
leave this module: no text is logged, exported or reported.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from readloom.errors import InputError
from readloom.mlops import drift
from readloom.mlops.data_quality import RowChecker

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")
_WORD = re.compile(r"[^\W\d_]+")
_EN = frozenset(
    "the an and is are was it to of in you he she they we what why how because that this "
    "my me not do did so but on for with his her".split()
)
INJECTION = frozenset({"injection"})
CRISIS = frozenset({"self_harm", "crisis", "distress", "abuse"})


def script_of(text: str) -> str:
    """The majority Unicode script of the letters (LATIN, CYRILLIC, ARABIC, CJK, ...)."""
    counts: Counter[str] = Counter()
    for ch in _PLACEHOLDER.sub(" ", text):
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            counts[name.split(" ")[0] if name else "OTHER"] += 1
    return counts.most_common(1)[0][0] if counts else "NONE"


def language_of(text: str) -> str:
    words = [w.lower() for w in _WORD.findall(_PLACEHOLDER.sub(" ", text))]
    if not words:
        return "none"
    return "en" if sum(w in _EN for w in words) / len(words) >= 0.15 else "other"


class Window:
    """The per-feature values of one window of events."""

    def __init__(self) -> None:
        self.num: dict[str, list[float]] = {}
        self.cat: dict[str, list[str]] = {}
        self.rate: dict[str, list[bool]] = {}
        self.pred: tuple[list[float], list[int]] = ([], [])

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "message":
            text, reply = str(event.get("text", "")), str(event.get("reply", ""))
            reason = event.get("block_reason") or ""
            self.num.setdefault("message_words", []).append(len(text.split()))
            self.cat.setdefault("message_script", []).append(script_of(text))
            self.cat.setdefault("message_language", []).append(language_of(text))
            self.rate.setdefault("pii_rate", []).append(bool(_PLACEHOLDER.search(text)))
            self.rate.setdefault("injection_rate", []).append(reason in INJECTION)
            self.rate.setdefault("crisis_rate", []).append(reason in CRISIS)
            self.num.setdefault("reply_words", []).append(len(reply.split()))
            self.cat.setdefault("move", []).append(str(event.get("move") or "none"))
            if not event.get("blocked"):
                self.rate.setdefault("offline_fallback_rate", []).append(
                    event.get("provider") == "offline"
                )
        elif kind == "passage":
            self.num.setdefault("passage_grade", []).append(float(event["grade"]))
        elif kind == "prediction":
            self.pred[0].append(float(event["predicted"]))
            self.pred[1].append(int(event["correct"]))
        elif kind == "recommendation":
            self.cat.setdefault("recommended_passage", []).append(str(event["passage_id"]))

    def extend(self, events: Iterable[dict[str, Any]]) -> Window:
        for e in events:
            self.add(e)
        return self


def compare(reference: Window, current: Window) -> dict[str, Any]:
    feats: list[drift.FeatureDrift] = []
    for name in sorted(set(reference.num) | set(current.num)):
        feats.append(drift.numeric(name, reference.num.get(name, []), current.num.get(name, [])))
    for name in sorted(set(reference.cat) | set(current.cat)):
        feats.append(drift.category(name, reference.cat.get(name, []), current.cat.get(name, [])))
    for name in sorted(set(reference.rate) | set(current.rate)):
        feats.append(drift.rate(name, reference.rate.get(name, []), current.rate.get(name, [])))
    if reference.pred[0] or current.pred[0]:
        feats.append(drift.calibration("bkt_calibration", reference.pred, current.pred))
    out = drift.summarize(feats)
    if len(current.pred[0]) >= 10:
        out["calibration_by_decile"] = drift.calibration_table(*current.pred)
    return out


_REQUIRED = {"message": (), "passage": ("grade",), "prediction": ("predicted", "correct"),
             "recommendation": ("passage_id",)}  # fmt: skip


def read_events(path: Path, *, max_bad_share: float) -> list[dict[str, Any]]:
    """JSON Lines events, each checked (kind known, fields present and numeric)."""
    checker = RowChecker(path.name, "event", max_bad_share=max_bad_share)
    events = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path.name}: {type(exc).__name__}") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            kind = event["kind"]
            for field in _REQUIRED[kind]:
                if field != "passage_id":
                    float(event[field])
                elif not event[field]:
                    raise ValueError
        except (ValueError, KeyError, TypeError):
            checker.bad(lineno, "not an event (kind and its fields)")
            continue
        checker.good()
        events.append(event)
    checker.finish()
    return events


def events_from_db(
    settings: Any, start: datetime, end: datetime, *, tenant: str | None = None, store: Any = None
) -> list[dict[str, Any]]:
    """Messages stored in [start, end), the passages ingested then (their estimated
    reading level; the grade they are filed under for rows catalogued before the estimate
    was kept), the recommendations served then, and the graded responses of the period."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from readloom.storage.db import migrate, sync_engine
    from readloom.storage.models import Message, TenantPassage, TutoringSession
    from readloom.storage.models_catalogue import CatalogueEntry
    from readloom.storage.models_mlops import RecommendationEvent

    migrate(settings)
    engine = sync_engine(settings)
    stmt = (
        select(Message.text, Message.reply, Message.meta)
        .join(TutoringSession, TutoringSession.id == Message.session_id)
        .where(Message.created_at >= start, Message.created_at < end)
    )
    passages = select(CatalogueEntry.reading_level, CatalogueEntry.grade).where(
        CatalogueEntry.updated_at >= start, CatalogueEntry.updated_at < end
    )
    recs = select(RecommendationEvent.passage_id).where(
        RecommendationEvent.created_at >= start, RecommendationEvent.created_at < end
    )
    if tenant:
        stmt = stmt.where(TutoringSession.tenant_id == tenant)
        passages = passages.join(
            TenantPassage, TenantPassage.passage_id == CatalogueEntry.passage_id
        ).where(TenantPassage.tenant_id == tenant)
        recs = recs.where(RecommendationEvent.tenant_id == tenant)
    events: list[dict[str, Any]] = []
    try:
        with Session(engine) as s:
            for text, reply, meta in s.execute(stmt):
                meta = meta or {}
                events.append({"kind": "message", "text": text, "reply": reply,
                               "move": meta.get("move"), "provider": meta.get("provider"),
                               "blocked": meta.get("blocked"),
                               "block_reason": meta.get("block_reason")})  # fmt: skip
            for level, grade in s.execute(passages):
                events.append({"kind": "passage", "grade": grade if level is None else level})
            for (passage_id,) in s.execute(recs):
                events.append({"kind": "recommendation", "passage_id": passage_id or "none"})
    finally:
        engine.dispose()
    if store is not None:
        from readloom.tools.mastery_model import p_correct

        prefix = f"{tenant}/" if tenant else ""
        for user, skill, correct, _, before in store.responses(
            since=start.timestamp(), until=end.timestamp()
        ):
            if user.startswith(prefix):
                predicted = p_correct(before, store.model.params(skill))
                events.append({"kind": "prediction", "predicted": predicted, "correct": correct})
    return events


def report_from_db(
    settings: Any,
    *,
    days: int = 1,
    reference_days: int = 28,
    tenant: str | None = None,
    store: Any = None,
) -> dict[str, Any]:
    """The last ``days`` against the ``reference_days`` before them."""
    from datetime import UTC, timedelta

    end = datetime.now(UTC)
    split = end - timedelta(days=days)
    start = split - timedelta(days=reference_days)
    ref = events_from_db(settings, start, split, tenant=tenant, store=store)
    cur = events_from_db(settings, split, end, tenant=tenant, store=store)
    return compare(Window().extend(ref), Window().extend(cur)) | {
        "events": {"reference": len(ref), "current": len(cur)}
    }
