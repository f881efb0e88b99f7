"""Learning events as xAPI 1.0.3 statements, with no personal data in them.

The actor is an account: the partner's pseudonymous id under the tenant's homePage
(never a name or mbox). Objects are passages and skills; results carry success and a
score, never the student's words.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from readloom.service import outbox
from readloom.storage.models import Tenant, XapiStatement, utcnow

VERBS = {
    "answered": "http://adlnet.gov/expapi/verbs/answered",
    "interacted": "http://adlnet.gov/expapi/verbs/interacted",
    "launched": "http://adlnet.gov/expapi/verbs/launched",
}
ACTIVITY_TYPES = {
    "passage": "http://adlnet.gov/expapi/activities/assessment",
    "skill": "http://adlnet.gov/expapi/activities/objective",
}


def build_statement(
    *,
    home_page: str,
    student_id: str,
    verb: str,
    object_kind: str,
    object_id: str,
    result: dict[str, Any] | None = None,
    registration: str | None = None,
) -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": home_page, "name": student_id},
        },
        "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
        "object": {
            "objectType": "Activity",
            "id": f"{home_page.rstrip('/')}/{object_kind}s/{object_id}",
            "definition": {"type": ACTIVITY_TYPES[object_kind]},
        },
        "timestamp": utcnow().isoformat(),
        "version": "1.0.3",
    }
    if result:
        stmt["result"] = result
    if registration:
        stmt["context"] = {"registration": registration, "platform": "readloom"}
    return stmt


async def record(
    session: AsyncSession,
    *,
    tenant: str,
    student_id: str,
    verb: str,
    object_kind: str,
    object_id: str,
    result: dict[str, Any] | None = None,
    registration: str | None = None,
) -> dict[str, Any]:
    """Store a statement and queue it for the tenant's webhooks, in the caller's transaction."""
    row = await session.get(Tenant, tenant)
    home_page = row.home_page if row else f"https://readloom.invalid/tenants/{tenant}"
    stmt = build_statement(
        home_page=home_page, student_id=student_id, verb=verb, object_kind=object_kind,
        object_id=object_id, result=result, registration=registration,
    )  # fmt: skip
    session.add(
        XapiStatement(
            id=stmt["id"], tenant_id=tenant, student_id=student_id, verb=stmt["verb"]["id"],
            statement=stmt,
        )
    )  # fmt: skip
    await outbox.enqueue(
        session, tenant=tenant, event_type="xapi.statement", data=stmt, student_id=student_id
    )
    return stmt
