"""The Redis client that workers share (``READLOOM_REDIS_URL``), and the storage URI the
``limits`` library uses for shared rate limits.

Without a Redis URL every limit and shared cache is in-process: right for one worker,
wrong for several (each would allow the full limit). Clients are cached per URL.
"""

from __future__ import annotations

import threading
from typing import Any

from readloom.settings import Settings

_clients: dict[tuple[str, bool], Any] = {}
_lock = threading.Lock()


def get_redis(settings: Settings, *, asyncio: bool = False) -> Any | None:
    """A ``redis.Redis`` (or ``redis.asyncio.Redis``) for ``settings.redis_url``; None
    when no Redis is configured (callers fall back to in-process state)."""
    url = settings.redis_url
    if not url:
        return None
    key = (url, asyncio)
    with _lock:
        client = _clients.get(key)
        if client is None:
            if asyncio:
                import redis.asyncio as aredis

                client = aredis.Redis.from_url(url, socket_timeout=2.0, health_check_interval=30)
            else:
                import redis

                client = redis.Redis.from_url(url, socket_timeout=2.0, health_check_interval=30)
            _clients[key] = client
        return client


def limits_storage_uri(settings: Settings) -> str:
    """``limits`` storage: the shared Redis when configured, else this process's memory."""
    url = settings.redis_url
    if not url:
        return "memory://"
    return url  # redis:// or rediss:// (limits speaks both)
