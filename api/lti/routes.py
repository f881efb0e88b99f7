"""LTI 1.3 endpoints: OIDC login initiation, launch, the tool's JWKS, and AGS scores.

``/lti/login`` issues a single-use state (also set as a partitioned, SameSite=None
cookie, so the launch must come back to the browser that started it) bound to a nonce,
and redirects to the platform's authorization endpoint. ``/lti/launch`` checks state,
cookie, signature, issuer, audience, nonce, deployment and role, records the user in
their course's class, mints a short-lived page key and answers with the student or
teacher page itself.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlparse

import anyio
import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from readloom.api.deps import PrincipalDep, RuntimeDep, ServiceDep
from readloom.api.lti.ags import AgsError
from readloom.api.lti.context import WebState, get_web, render_page
from readloom.api.lti.pagekeys import expires_iso, issue_page_key
from readloom.api.lti.provision import provision
from readloom.api.lti.verify import AGS_SCORE_SCOPE, LaunchRefused, verify_launch
from readloom.errors import NotFound, ReadloomError
from readloom.service import learner

log = logging.getLogger("readloom.lti")
router = APIRouter(tags=["lti"], include_in_schema=False)
scores = APIRouter(prefix="/v1/lti", tags=["lti"])
WebDep = Annotated[WebState, Depends(get_web)]
STATE_COOKIE = "rl_lti_state_"


class LmsUnavailable(ReadloomError):
    code = "lms_unavailable"
    status = 502


def _refused(web: WebState, exc: LaunchRefused) -> HTMLResponse:
    log.warning("lti_launch_refused reason=%s", exc.reason)
    return render_page(
        web, "launch_error.html", status=exc.status,
        values={"REASON": exc.reason, "MESSAGE": exc.message},
    )  # fmt: skip


MAX_FORM_BYTES = 64 * 1024


def state_cookie(state: str, value: str, *, max_age: int) -> str:
    """The login's state, readable only by ``/lti/launch``: SameSite=None because the
    launch is a cross-site form post, Partitioned (CHIPS) so it still works when the LMS
    embeds readloom in an iframe and third-party cookies are blocked. Written by hand:
    Starlette supports ``Partitioned`` on Python 3.14+ only."""
    return (
        f"{STATE_COOKIE}{state[:16]}={value}; Max-Age={max_age}; Path=/lti/; Secure; "
        "HttpOnly; SameSite=None; Partitioned"
    )


async def form_fields(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what OIDC form_post and plain HTML
    forms send), parsed without python-multipart; first value of each field."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if v}


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        params.update(await form_fields(request))
    return params


@router.api_route("/lti/login", methods=["GET", "POST"], name="lti_login")
async def lti_login(request: Request, web: WebDep) -> Response:
    """OIDC third-party login initiation (the platform sends the browser here first)."""
    p = await _params(request)
    if not p.get("iss") or not p.get("login_hint"):
        return _refused(web, LaunchRefused("bad_login", "The login request is incomplete.", 400))
    try:
        platform = web.registry.find(p["iss"], p.get("client_id"))
    except NotFound:
        return _refused(web, LaunchRefused("unknown_platform", "This LMS is not registered.", 403))
    if p.get("lti_deployment_id") and p["lti_deployment_id"] not in platform.deployment_ids:
        return _refused(
            web, LaunchRefused("unknown_deployment", "This LMS deployment is not registered.", 403)
        )
    issued = await anyio.to_thread.run_sync(
        web.store.issue_state, platform.issuer, platform.client_id
    )
    # The platform's own target link, when it is this server's launch URL (keeps the
    # https scheme a TLS-terminating proxy hides from us); else the URL we see.
    target = urlparse(p.get("target_link_uri") or "")
    ours = target.netloc == request.headers.get("host") and target.path.endswith("/lti/launch")
    redirect_uri = target.geturl() if ours else str(request.url_for("lti_launch"))
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": p["login_hint"],
        "state": issued.state,
        "nonce": issued.nonce,
    }
    if p.get("lti_message_hint"):
        query["lti_message_hint"] = p["lti_message_hint"]
    sep = "&" if "?" in platform.auth_login_url else "?"
    resp = RedirectResponse(platform.auth_login_url + sep + urlencode(query), status_code=302)
    resp.headers.append("set-cookie", state_cookie(issued.state, issued.state, max_age=600))
    return resp


@router.post("/lti/launch", name="lti_launch")
async def lti_launch(request: Request, web: WebDep, rt: RuntimeDep) -> Response:
    """The platform's form post with the signed id_token."""
    form = await form_fields(request)
    id_token, state, error = form.get("id_token"), form.get("state"), form.get("error")
    try:
        if error:
            raise LaunchRefused("platform_error", "The LMS reported an error for this launch.", 400)
        if not id_token or not state:
            raise LaunchRefused("bad_launch", "The launch is missing its token or state.", 400)
        bound = await anyio.to_thread.run_sync(web.store.consume_state, state)
        if bound is None:
            raise LaunchRefused("bad_state", "This launch expired or was already used.")
        if request.cookies.get(STATE_COOKIE + state[:16]) != state:
            raise LaunchRefused("bad_state", "This launch did not start in this browser.")
        nonce, issuer, client_id = bound
        platform = web.registry.find(issuer, client_id)
        launch, seen = await anyio.to_thread.run_sync(
            lambda: verify_launch(id_token, platform=platform, nonce=nonce, jwks=web.jwks)
        )
        if not await anyio.to_thread.run_sync(web.store.use_nonce, issuer, seen):
            raise LaunchRefused("replayed_nonce", "This launch was already used.")
    except LaunchRefused as exc:
        return _refused(web, exc)
    except NotFound:
        return _refused(web, LaunchRefused("unknown_platform", "This LMS is not registered.", 403))
    subject, class_id = await provision(rt.db, platform.tenant, launch)
    ags = (
        launch.role == "student"
        and bool(launch.ags_lineitem)
        and AGS_SCORE_SCOPE in launch.ags_scopes
        and bool(platform.ags_token_url)
    )
    record: dict[str, Any] = {"issuer": issuer, "client_id": client_id, "sub": launch.sub}
    if ags:
        record["lineitem"] = launch.ags_lineitem
    key, page_key = await issue_page_key(
        web, rt.db, tenant=platform.tenant, role=launch.role, subject=subject, source="lti",
        launch=record,
    )  # fmt: skip
    boot = {
        "role": launch.role, "key": key, "expires_at": expires_iso(page_key), "source": "lti",
        "passage_id": launch.passage_id, "grade": launch.grade, "class_id": class_id, "ags": ags,
    }  # fmt: skip
    log.info("lti_launch_ok role=%s ags=%s", launch.role, ags)
    resp = render_page(web, f"{launch.role}.html", boot=boot)
    resp.headers.append("set-cookie", state_cookie(state, "", max_age=0))
    return resp


@router.get("/lti/jwks.json", name="lti_jwks")
async def lti_jwks(web: WebDep) -> JSONResponse:
    """readloom's public key, for the platform to check AGS client assertions."""
    jwks = await anyio.to_thread.run_sync(web.tool_key.jwks)
    return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=3600"})


class ScoreOut(BaseModel):
    score_given: float
    score_maximum: float
    skills: int


@scores.post("/score", response_model=ScoreOut)
async def post_lti_score(principal: PrincipalDep, service: ServiceDep, web: WebDep) -> ScoreOut:
    """Send the launched student's mastery to their LMS gradebook (AGS): the mean
    probability of mastery over the skills they have practised, out of 100. Only for
    a page key from an LTI launch whose platform offered a line item and the score scope."""
    page_key = await anyio.to_thread.run_sync(web.store.get_key, principal.key_id)
    launch = page_key.launch if page_key else None
    if principal.role != "student" or not launch or not launch.get("lineitem"):
        raise NotFound("no LMS gradebook for this session")
    platform = web.registry.find(launch["issuer"], launch["client_id"])
    skills = [
        m for m in await learner.mastery(service, principal.tenant, principal.subject or "")
        if m.attempts > 0
    ]  # fmt: skip
    given = 100.0 * sum(m.p_mastery for m in skills) / len(skills) if skills else 0.0
    try:
        await web.ags.post_score(
            platform, lineitem=launch["lineitem"], user_id=launch["sub"], score=given, maximum=100.0
        )
    except AgsError as exc:
        log.warning("ags_score_failed reason=%s status=%s", exc.reason, exc.status)
        raise LmsUnavailable(f"the LMS did not accept the score ({exc.reason})") from exc
    except httpx.HTTPError as exc:  # timeouts, refused connections: the LMS is unreachable
        log.warning("ags_score_failed reason=unreachable type=%s", type(exc).__name__)
        raise LmsUnavailable("the LMS could not be reached") from exc
    return ScoreOut(score_given=round(given, 2), score_maximum=100.0, skills=len(skills))
