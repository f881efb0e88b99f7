"""Learning events out, as xAPI statements (pseudonymous actors, no text)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from sqlalchemy import and_, or_, select

from readloom.api.auth import Principal
from readloom.api.deps import RuntimeDep, ScopeDep, allow
from readloom.api.schemas import StatementsOut
from readloom.errors import InputError
from readloom.storage.models import XapiStatement

router = APIRouter(prefix="/v1/xapi", tags=["xapi"])

Reader = Annotated[Principal, allow("teacher", "partner", "admin")]


def _cursor(stored_at: datetime, statement_id: str) -> str:
    raw = f"{stored_at.isoformat()}|{statement_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, statement_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), statement_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("query.cursor: not a cursor this API returned") from exc


@router.get("/statements", response_model=StatementsOut)
async def list_statements(
    principal: Reader,
    scope: ScopeDep,
    rt: RuntimeDep,
    since: Annotated[datetime | None, Query(description="Stored strictly after this time")] = None,
    student_id: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="From a `more` link")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> StatementsOut:
    """Statements in the order stored; follow ``more`` for the next page."""
    stmt = scope.scoped(select(XapiStatement), XapiStatement.tenant_id, XapiStatement.student_id)
    if since is not None:
        stmt = stmt.where(XapiStatement.stored_at > since)
    if student_id is not None:
        stmt = stmt.where(XapiStatement.student_id == student_id)
    if cursor is not None:
        at, last = _parse_cursor(cursor)
        stmt = stmt.where(
            or_(
                XapiStatement.stored_at > at,
                and_(XapiStatement.stored_at == at, XapiStatement.id > last),
            )
        )
    stmt = stmt.order_by(XapiStatement.stored_at, XapiStatement.id).limit(limit + 1)
    async with rt.db.reader() as s:
        rows = (await s.execute(stmt)).scalars().all()
    more = None
    if len(rows) > limit:
        rows = rows[:limit]
        query = {"cursor": _cursor(rows[-1].stored_at, rows[-1].id), "limit": limit}
        if student_id is not None:
            query["student_id"] = student_id
        if since is not None:
            query["since"] = since.isoformat()
        more = "/v1/xapi/statements?" + urlencode(query)
    return StatementsOut(statements=[r.statement for r in rows], more=more)
