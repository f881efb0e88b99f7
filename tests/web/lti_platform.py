"""A test LMS speaking LTI 1.3 on 127.0.0.1: OIDC authorization endpoint, JWKS, an
OAuth2 token endpoint (checks readloom's signed client assertion against readloom's
published JWKS) and an AGS line item that records the scores it receives.

Keys are RSA keys made here; ``variant`` knobs produce the broken launches readloom
must refuse (bad signature, wrong nonce, wrong audience, unknown deployment)."""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
ROLES = {
    "student": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
    "teacher": [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
    ],
    "mentor": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"],
}
# Personal data a real LMS puts in the id_token: readloom must never show or log it.
USERS = {
    "student": {"sub": "lms-user-1001", "given_name": "Adaline", "family_name": "Quixbury",
                "name": "Adaline Quixbury", "email": "adaline.quixbury@school.example"},
    "teacher": {"sub": "lms-user-2002", "given_name": "Bertram", "family_name": "Wexlow",
                "name": "Bertram Wexlow", "email": "b.wexlow@school.example"},
    "mentor": {"sub": "lms-user-3003", "name": "Parent Person"},
}  # fmt: skip


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakePlatform:
    tool_url: str
    client_id: str = "readloom-test-client"
    deployment_id: str = "dep-1"
    kid: str = "platform-key-1"
    passage_id: str = "lighthouse-keeper"
    key: rsa.RSAPrivateKey = field(default_factory=_rsa)
    rogue_key: rsa.RSAPrivateKey = field(default_factory=_rsa)
    scores: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, dict[str, str]] = field(default_factory=dict)
    last_form: str | None = None
    url: str = ""
    _tokens: set[str] = field(default_factory=set)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakePlatform:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                platform._route(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                platform._route(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def issuer(self) -> str:
        return self.url

    def registration(self) -> dict[str, Any]:
        """What ``readloom lti register`` is given for this platform."""
        return {
            "issuer": self.issuer, "client_id": self.client_id,
            "auth_login_url": self.url + "/auth", "jwks_url": self.url + "/jwks",
            "deployment_ids": [self.deployment_id], "ags_token_url": self.url + "/token",
        }  # fmt: skip

    def launch_url(self, role: str, variant: str = "ok") -> str:
        return f"{self.url}/start?{urlencode({'role': role, 'variant': variant})}"

    # --- HTTP --------------------------------------------------------------------------
    def _route(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        body = b""
        if method == "POST":
            body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        routes = {
            ("GET", "/jwks"): lambda: self._json(h, 200, self.jwks()),
            ("GET", "/start"): lambda: self._start(h, query),
            ("GET", "/auth"): lambda: self._auth(h, query),
            ("GET", "/replay"): lambda: self._html(h, 200, self.last_form or ""),
            ("POST", "/token"): lambda: self._token(h, body),
            ("POST", "/lineitems/1/scores"): lambda: self._score(h, body),
        }
        handler = routes.get((method, parsed.path))
        if handler is None:
            self._json(h, 404, {"error": "not_found"})
        else:
            handler()

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def _start(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        """The LMS's link to readloom: third-party login initiation."""
        hint = secrets.token_urlsafe(8)
        self.pending[hint] = {"role": q.get("role", "student"), "variant": q.get("variant", "ok")}
        params = {
            "iss": self.issuer, "login_hint": hint, "target_link_uri": self.tool_url + "/lti/launch",
            "client_id": self.client_id, "lti_deployment_id": self.deployment_id,
            "lti_message_hint": "msg-" + hint,
        }  # fmt: skip
        self._redirect(h, self.tool_url + "/lti/login?" + urlencode(params))

    def _auth(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        """OIDC authorization endpoint: checks the request, posts the id_token back."""
        launch = self.pending.pop(q.get("login_hint", ""), None)
        problems = [
            k for k, want in (
                ("scope", "openid"), ("response_type", "id_token"), ("response_mode", "form_post"),
                ("prompt", "none"), ("client_id", self.client_id),
                ("redirect_uri", self.tool_url + "/lti/launch"),
            ) if q.get(k) != want
        ]  # fmt: skip
        if launch is None or problems or not q.get("nonce") or not q.get("state"):
            self._json(h, 400, {"error": "invalid_request", "fields": problems})
            return
        if q.get("lti_message_hint") != "msg-" + q["login_hint"]:
            self._json(h, 400, {"error": "invalid_request", "fields": ["lti_message_hint"]})
            return
        token = self.id_token(launch["role"], q["nonce"], launch["variant"])
        form = (
            '<!doctype html><html><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(q["redirect_uri"])}">'
            f'<input type="hidden" name="id_token" value="{html.escape(token)}">'
            f'<input type="hidden" name="state" value="{html.escape(q["state"])}">'
            "<noscript><button>Continue</button></noscript></form></body></html>"
        )
        self.last_form = form
        self._html(h, 200, form)

    def id_token(self, role: str, nonce: str, variant: str = "ok") -> str:
        now = int(time.time())
        user = USERS[role]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": "someone-else" if variant == "wrong_aud" else self.client_id,
            "iat": now, "exp": now + 300,
            "nonce": "not-the-nonce" if variant == "wrong_nonce" else nonce,
            **user,
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": "dep-unknown" if variant == "unknown_deployment" else self.deployment_id,
            LTI + "target_link_uri": self.tool_url + "/lti/launch",
            LTI + "resource_link": {"id": "link-7", "title": "Reading with readloom"},
            LTI + "roles": ROLES[role],
            LTI + "context": {"id": "course-42", "label": "READ-4B", "title": "Reading 4B"},
            LTI + "custom": {"passage_id": self.passage_id, "grade": "4"},
            AGS: {
                "scope": [SCORE_SCOPE, "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"],
                "lineitems": self.url + "/lineitems",
                "lineitem": self.url + "/lineitems/1",
            },
        }  # fmt: skip
        key = self.rogue_key if variant == "bad_signature" else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    def _token(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        """Client-credentials grant with a JWT assertion signed by readloom's tool key,
        checked against the JWKS readloom publishes."""
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.token_requests.append(form)
        try:
            assert form.get("grant_type") == "client_credentials"
            assert form.get("client_assertion_type") == (
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            )
            key = jwt.PyJWKClient(self.tool_url + "/lti/jwks.json").get_signing_key_from_jwt(
                form["client_assertion"]
            )
            claims = jwt.decode(
                form["client_assertion"], key.key, algorithms=["RS256"],
                audience=self.url + "/token", issuer=self.client_id,
            )  # fmt: skip
            assert claims["sub"] == self.client_id and claims.get("jti")
        except (AssertionError, KeyError, jwt.PyJWTError) as exc:
            self._json(h, 401, {"error": "invalid_client", "why": type(exc).__name__})
            return
        token = uuid.uuid4().hex
        self._tokens.add(token)
        self._json(h, 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                            "scope": form.get("scope", "")})  # fmt: skip

    def _score(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            self._json(h, 401, {"error": "unauthorized"})
            return
        if h.headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
            self._json(h, 415, {"error": "media_type"})
            return
        self.scores.append(json.loads(body))
        h.send_response(204)
        h.end_headers()

    # --- helpers -----------------------------------------------------------------------
    @staticmethod
    def _json(h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _html(h: BaseHTTPRequestHandler, status: int, text: str) -> None:
        data = text.encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _redirect(h: BaseHTTPRequestHandler, location: str) -> None:
        h.send_response(302)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()
