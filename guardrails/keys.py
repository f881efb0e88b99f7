"""Where the vault key comes from: the environment, a secret file, or a file under home.

Operators keep keys apart from the data they protect: ``READLOOM_VAULT_KEY`` (the key
itself, e.g. from a secret manager) or ``READLOOM_VAULT_KEY_FILE`` (a mounted secret). A
configured source that is missing or malformed stops the start-up: falling back to a new key
would make every stored pseudonym unreadable, and writing one beside the vault would defeat
the point. Without either, the key is ``vault.key`` under ``READLOOM_HOME`` (0600).
"""

from __future__ import annotations

import logging
import stat

from cryptography.fernet import Fernet

from readloom.errors import ReadloomError
from readloom.settings import Settings

log = logging.getLogger(__name__)


def _checked(raw: bytes, where: str) -> bytes:
    key = raw.strip()
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ReadloomError(
            f"the vault key from {where} is not a Fernet key (32 url-safe base64 bytes; "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')",
            code="vault_key_invalid",
        ) from None
    return key


def load_key(settings: Settings) -> bytes:
    """The vault key (never logged)."""
    from readloom.guardrails.vault import load_or_create_key

    if settings.vault_key is not None:
        return _checked(settings.vault_key.get_secret_value().encode(), "READLOOM_VAULT_KEY")
    path = settings.vault_key_file
    if path is not None:
        if not path.is_file():
            raise ReadloomError(
                f"READLOOM_VAULT_KEY_FILE names {path}, which does not exist",
                code="vault_key_missing",
            )
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning(
                "vault_key_file_readable_by_others mode=%o", stat.S_IMODE(path.stat().st_mode)
            )
        return _checked(path.read_bytes(), "READLOOM_VAULT_KEY_FILE")
    return load_or_create_key(settings.ensure_home())
