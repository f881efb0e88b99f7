"""Registered LMS platforms, kept as one JSON file under ``READLOOM_HOME/lti/``.

A platform is identified by (issuer, client_id); it lists the deployment ids it may
launch from and the readloom tenant its users belong to. Written atomically, read on
every launch (a registration takes effect without a restart).
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from readloom.errors import InputError, NotFound
from readloom.settings import Settings

TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _https_or_loopback(url: str, field: str) -> str:
    parsed = urlparse(url)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise ValueError(f"{field} must be an https URL (http only for 127.0.0.1)")
    return url


class Platform(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(min_length=1, max_length=500)
    client_id: str = Field(min_length=1, max_length=255)
    auth_login_url: str = Field(description="The platform's OIDC authorization endpoint")
    jwks_url: str = Field(description="The platform's public keys (JWKS)")
    deployment_ids: list[str] = Field(min_length=1)
    tenant: str = Field(description="readloom tenant the platform's users belong to")
    ags_token_url: str | None = Field(None, description="OAuth2 token endpoint for AGS")
    auth_token_aud: str | None = Field(None, description="`aud` of the client assertion")

    @field_validator("auth_login_url", "jwks_url", "ags_token_url")
    @classmethod
    def _url(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _https_or_loopback(v, info.field_name or "url")

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, v: str) -> str:
        if not TENANT_RE.fullmatch(v):
            raise ValueError("tenant must be 1-64 letters, digits, '.', '_' or '-'")
        return v

    @property
    def origin(self) -> str:
        """The platform's web origin (for the pages' ``frame-ancestors``)."""
        p = urlparse(self.auth_login_url)
        return f"{p.scheme}://{p.netloc}"


def default_tenant(issuer: str) -> str:
    host = urlparse(issuer).hostname or issuer
    return ("lti-" + re.sub(r"[^A-Za-z0-9.-]", "-", host))[:64]


class PlatformRegistry:
    def __init__(self, settings: Settings):
        self.path = Path(settings.home) / "lti" / "platforms.json"
        self._lock = threading.Lock()

    def all(self) -> list[Platform]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [Platform.model_validate(p) for p in raw.get("platforms", [])]

    def find(self, issuer: str, client_id: str | None = None) -> Platform:
        """The platform for this issuer (and client id); NotFound when unregistered or
        when several client ids share the issuer and none was given."""
        hits = [p for p in self.all() if p.issuer == issuer and client_id in (None, p.client_id)]
        if len(hits) != 1:
            raise NotFound("unknown LTI platform" if not hits else "ambiguous LTI client id")
        return hits[0]

    def register(self, platform: Platform) -> Platform:
        """Add or replace the registration for (issuer, client_id)."""
        with self._lock:
            others = [
                p
                for p in self.all()
                if (p.issuer, p.client_id) != (platform.issuer, platform.client_id)
            ]
            self._write([*others, platform])
        return platform

    def remove(self, issuer: str, client_id: str) -> None:
        with self._lock:
            items = self.all()
            kept = [p for p in items if (p.issuer, p.client_id) != (issuer, client_id)]
            if len(kept) == len(items):
                raise InputError("no such platform registration", status=404)
            self._write(kept)

    def _write(self, platforms: list[Platform]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {"platforms": [p.model_dump() for p in platforms]}
        tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
