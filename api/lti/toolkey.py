"""readloom's own RSA key: it signs the client assertions of the AGS token requests.

Generated on first use under ``READLOOM_HOME/lti/`` (mode 0600); the platform fetches
the public half from ``/lti/jwks.json`` (or is given ``readloom lti jwks``' output).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from readloom.settings import Settings

_lock = threading.Lock()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ToolKey:
    def __init__(self, settings: Settings):
        self.path = Path(settings.home) / "lti" / "tool_private_key.pem"

    @cached_property
    def private_key(self) -> rsa.RSAPrivateKey:
        with _lock:
            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
            loaded = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise TypeError("the LTI tool key must be an RSA key")
        return loaded

    @cached_property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
        kid = _b64(hashlib.sha256(canonical.encode()).digest())  # RFC 7638 thumbprint
        return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}

    @property
    def kid(self) -> str:
        return str(self.public_jwk["kid"])

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}
