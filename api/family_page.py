"""The family summary page at ``/family/<token>``: server-rendered, no script needed
(one for the print button), one column for a phone, print CSS for paper.

An invalid, expired or revoked link gets the same plain 404 page, so a token cannot be
probed for which of the three it is.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse

from readloom.api.lti.context import page_headers
from readloom.errors import NotFound
from readloom.service import analytics, family

TEMPLATE = Path(__file__).resolve().parent / "templates" / "family.html"


def _list(items: list[str], empty: str) -> str:
    if not items:
        return f"<p>{escape(empty)}</p>"
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def render(s: family.FamilySummary, expires: str) -> str:
    effort = (
        f"{s.sessions} reading session{'s' if s.sessions != 1 else ''}, "
        f"about {round(s.minutes)} minute{'s' if round(s.minutes) != 1 else ''} in all."
        if s.sessions
        else "No reading sessions this week."
    )
    growing = [
        f"{escape(g['name'].capitalize())}: from {round(g['from'] * 100)}% to {round(g['to'] * 100)}%"
        f' <meter min="0" max="1" value="{g["to"]:.2f}" aria-hidden="true"></meter>'
        for g in s.growing
    ]
    practise = (
        f"<p><strong>{escape(s.practise['name'].capitalize())}.</strong> {escape(s.practise['tip'])}</p>"
        if s.practise
        else "<p>Read together for ten minutes and talk about what happened.</p>"
    )
    values = {
        "STUDENT": escape(s.student_id),
        "WEEK": escape(f"{s.week_from} to {s.week_to}"),
        "EFFORT": escape(effort),
        "PASSAGES": _list([escape(p) for p in s.passages], "Nothing read this week yet."),
        "GROWING": _list(growing, "Growth shows after a few more answers."),
        "PRACTISE": practise,
        "EXPIRES": escape(expires),
    }
    html = TEMPLATE.read_text()
    for k, v in values.items():
        html = html.replace("{{" + k + "}}", v)
    return html


async def family_page(token: str, request: Request) -> HTMLResponse:
    rt = request.app.state.runtime
    web = request.app.state.readloom_web
    headers = page_headers(web) | {"X-Robots-Tag": "noindex"}
    try:
        service = rt.require_service()
        async with rt.db.writer() as s:
            link = await family.open_link(s, rt.settings, token)
            tenant, student, expires = link.tenant_id, link.student_id, link.expires_at
        agent = analytics.analytics_for(rt.db, service)
        async with rt.db.reader() as s:
            summary = await family.summary(s, agent, tenant=tenant, student_id=student)
    except NotFound as exc:
        body = f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width, initial-scale=1'><title>Link not valid</title><link rel=stylesheet href=/static/css/family.css><main class=family-main><h1>This link is not valid</h1><p>{escape(exc.message)}. Ask your child's teacher for a new one.</p></main>"
        return HTMLResponse(body, status_code=404, headers=headers)
    return HTMLResponse(render(summary, expires.date().isoformat()), headers=headers)
