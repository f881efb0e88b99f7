"""Assignment and Grade Services: post a student's mastery to the LMS gradebook.

OAuth 2 client-credentials grant with a signed JWT client assertion (RFC 7523, as LTI
Advantage requires) to the platform's token URL, then a Score to ``{lineitem}/scores``.
Tokens are cached per platform until shortly before they expire.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt

from readloom.api.lti.registry import Platform
from readloom.api.lti.toolkey import ToolKey
from readloom.api.lti.verify import AGS_SCORE_SCOPE

log = logging.getLogger("readloom.lti")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"


class AgsError(Exception):
    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def scores_url(lineitem: str) -> str:
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


class AgsClient:
    def __init__(self, tool_key: ToolKey, *, timeout_s: float = 10.0):
        self.tool_key = tool_key
        self.timeout_s = timeout_s
        self._tokens: dict[tuple[str, str, str], tuple[float, str]] = {}
        self._lock = asyncio.Lock()

    def client_assertion(self, platform: Platform) -> str:
        assert platform.ags_token_url
        now = int(time.time())
        claims = {
            "iss": platform.client_id,
            "sub": platform.client_id,
            "aud": platform.auth_token_aud or platform.ags_token_url,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(
            claims, self.tool_key.private_key, algorithm="RS256", headers={"kid": self.tool_key.kid}
        )

    async def access_token(self, http: httpx.AsyncClient, platform: Platform, scope: str) -> str:
        if not platform.ags_token_url:
            raise AgsError("no_token_url")
        cache_key = (platform.issuer, platform.client_id, scope)
        async with self._lock:
            hit = self._tokens.get(cache_key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            resp = await http.post(
                platform.ags_token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": self.client_assertion(platform),
                    "scope": scope,
                },
            )
            if resp.status_code != 200:
                raise AgsError("token_refused", resp.status_code)
            body = resp.json()
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise AgsError("token_missing")
            ttl = float(body.get("expires_in") or 3600)
            self._tokens[cache_key] = (time.monotonic() + max(0.0, ttl - 30), token)
            return token

    async def post_score(
        self, platform: Platform, *, lineitem: str, user_id: str, score: float, maximum: float
    ) -> None:
        """Post ``score`` out of ``maximum`` for the platform's user ``user_id`` (its sub)."""
        body: dict[str, Any] = {
            "userId": user_id,
            "scoreGiven": round(score, 2),
            "scoreMaximum": maximum,
            "activityProgress": "InProgress",
            "gradingProgress": "FullyGraded",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        async with httpx.AsyncClient(timeout=self.timeout_s) as http:
            token = await self.access_token(http, platform, AGS_SCORE_SCOPE)
            resp = await http.post(
                scores_url(lineitem),
                content=json.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_MEDIA_TYPE},
            )
        if resp.status_code not in (200, 201, 202, 204):
            raise AgsError("score_refused", resp.status_code)
        log.info("ags_score_posted status=%d", resp.status_code)
