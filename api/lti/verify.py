"""id_token verification for an LTI 1.3 resource-link launch, and role mapping.

Every check refuses with a ``LaunchRefused`` carrying a stable reason code (shown to
the user and logged); nothing from the token (names, e-mails) is ever logged or kept
beyond the opaque ``sub`` the platform assigns.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

import jwt
from pydantic import BaseModel

from readloom.api.lti.registry import Platform

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
AGS_SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
TEACHER_ROLES = ("Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator")
STUDENT_ROLES = ("Learner",)
LEEWAY_S = 60

PageRole = Literal["student", "teacher"]


class LaunchRefused(Exception):
    def __init__(self, reason: str, message: str, status: int = 401):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


class Launch(BaseModel):
    """What readloom keeps from a verified launch: no names, no e-mail addresses."""

    issuer: str
    client_id: str
    deployment_id: str
    sub: str
    role: PageRole
    context_id: str | None = None
    context_label: str | None = None
    resource_link_id: str | None = None
    passage_id: str | None = None
    grade: int | None = None
    ags_lineitem: str | None = None
    ags_scopes: list[str] = []


class JwksCache:
    """One PyJWKClient per platform JWKS URL (keys cached; a new ``kid`` refetches)."""

    def __init__(self, timeout_s: float = 5.0):
        self.timeout_s = timeout_s
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def signing_key(self, jwks_url: str, token: str) -> Any:
        with self._lock:
            client = self._clients.get(jwks_url)
            if client is None:
                client = jwt.PyJWKClient(
                    jwks_url, cache_keys=True, lifespan=300, timeout=self.timeout_s
                )
                self._clients[jwks_url] = client
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            raise LaunchRefused(
                "jwks_unavailable", "The LMS's keys could not be fetched.", 502
            ) from exc
        except jwt.PyJWKClientError as exc:
            raise LaunchRefused(
                "unknown_key", "The launch was signed with an unknown key."
            ) from exc


def map_role(roles: list[str]) -> PageRole | None:
    """Context (membership) roles decide; institution roles only when there are none."""

    def names(prefix: str) -> set[str]:
        out = set()
        for r in roles:
            if r.startswith(prefix):
                out.add(r[len(prefix) :].split("#")[0])
            elif prefix == MEMBERSHIP and "/" not in r and "#" not in r:
                out.add(r)  # short (deprecated) context role names, e.g. "Learner"
        return out

    membership = names(MEMBERSHIP)
    if membership & set(TEACHER_ROLES) or any(
        r.startswith(MEMBERSHIP + "Instructor#") for r in roles
    ):
        return "teacher"
    if membership & set(STUDENT_ROLES):
        return "student"
    if membership:
        return None  # e.g. Mentor only: not a reader nor a teacher of this class
    institution = names(INSTITUTION)
    if institution & {"Faculty", "Instructor"}:
        return "teacher"
    if institution & {"Student", "Learner"}:
        return "student"
    return None


def verify_launch(
    token: str, *, platform: Platform, nonce: str, jwks: JwksCache
) -> tuple[Launch, str]:
    """The verified launch and its nonce (the caller records the nonce as used)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise LaunchRefused("malformed_token", "The launch token is malformed.") from exc
    if header.get("alg") != "RS256":
        raise LaunchRefused("bad_algorithm", "The launch token must be signed with RS256.")
    key = jwks.signing_key(platform.jwks_url, token)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise LaunchRefused("bad_signature", "The launch token's signature is invalid.") from exc
    except jwt.ExpiredSignatureError as exc:
        raise LaunchRefused("expired_token", "The launch token has expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise LaunchRefused("wrong_audience", "The launch token is for another tool.") from exc
    except jwt.InvalidIssuerError as exc:
        raise LaunchRefused("wrong_issuer", "The launch token is from another LMS.") from exc
    except jwt.InvalidTokenError as exc:
        raise LaunchRefused("invalid_token", "The launch token is invalid.") from exc
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != platform.client_id:
        raise LaunchRefused("wrong_audience", "The launch token is for another tool.")
    if claims["nonce"] != nonce:
        raise LaunchRefused("wrong_nonce", "The launch does not match its login request.")
    if claims.get(LTI + "message_type") != "LtiResourceLinkRequest":
        raise LaunchRefused(
            "unsupported_message", "Only resource-link launches are supported.", 400
        )
    if claims.get(LTI + "version") != "1.3.0":
        raise LaunchRefused("unsupported_version", "Only LTI 1.3.0 launches are supported.", 400)
    deployment = claims.get(LTI + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise LaunchRefused("unknown_deployment", "This LMS deployment is not registered.", 403)
    role = map_role([r for r in claims.get(LTI + "roles", []) if isinstance(r, str)])
    if role is None:
        raise LaunchRefused("unsupported_role", "readloom is for learners and instructors.", 403)
    context = claims.get(LTI + "context") or {}
    custom = claims.get(LTI + "custom") or {}
    ags = claims.get(AGS_CLAIM) or {}
    grade = custom.get("grade")
    launch = Launch(
        issuer=platform.issuer,
        client_id=platform.client_id,
        deployment_id=str(deployment),
        sub=str(claims["sub"]),
        role=role,
        context_id=str(context["id"]) if context.get("id") else None,
        context_label=str(context.get("label") or context.get("title") or "")[:200] or None,
        resource_link_id=str((claims.get(LTI + "resource_link") or {}).get("id") or "") or None,
        passage_id=str(custom["passage_id"]) if custom.get("passage_id") else None,
        grade=int(grade) if str(grade or "").isdigit() and 1 <= int(grade) <= 12 else None,
        ags_lineitem=ags.get("lineitem") if isinstance(ags.get("lineitem"), str) else None,
        ags_scopes=[s for s in ags.get("scope", []) if isinstance(s, str)],
    )
    return launch, str(claims["nonce"])
