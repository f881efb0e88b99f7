"""Rate limits shared by every worker, through the ``limits`` library: a moving window
per key, counted in Redis when ``READLOOM_REDIS_URL`` is set (atomic Lua scripts, so N
workers allow the limit once, not N times), else in this process.

One ``Limiter`` per process serves every limit (per API key, per student, per tenant,
per tenant's model calls); a limit of 0 or less is off. ``hit`` answers 0.0 when
allowed, else the seconds until a slot frees (for ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from limits import RateLimitItemPerMinute, storage, strategies

from readloom.settings import Settings
from readloom.storage.redis import limits_storage_uri

log = logging.getLogger(__name__)
T = TypeVar("T")


class Limiter:
    def __init__(self, settings: Settings) -> None:
        uri = limits_storage_uri(settings)
        self.shared = uri != "memory://"
        self._storage = storage.storage_from_string(uri)
        self._window = strategies.MovingWindowRateLimiter(self._storage)
        self._items: dict[int, RateLimitItemPerMinute] = {}

    def _item(self, per_minute: int) -> RateLimitItemPerMinute:
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        return item

    async def off_loop(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a check that counts in this limiter from async code. On Redis each hit is a
        network round trip, which on the event loop would stall every request the worker
        serves: it runs in a thread. In-process windows cost microseconds: inline."""
        if self.shared:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    def hit(self, scope: str, key: str, per_minute: int) -> float:
        """Count one event for ``key`` in ``scope``: 0.0 if within ``per_minute``, else
        the seconds to wait. Off when ``per_minute`` <= 0."""
        if per_minute <= 0:
            return 0.0
        item = self._item(per_minute)
        if self._window.hit(item, scope, key):
            return 0.0
        stats = self._window.get_window_stats(item, scope, key)
        return max(0.05, stats.reset_time - time.time())

    def reset(self) -> None:
        self._storage.reset()
