"""What the app builds once at start-up and shares across requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from readloom.api.auth import KeyCache, RateLimiter
from readloom.api.config import ApiConfig
from readloom.settings import Settings
from readloom.storage.db import Database
from readloom.storage.leases import Leases

if TYPE_CHECKING:
    from readloom.service import Readloom
    from readloom.service.jobs import QuestionJobRunner
    from readloom.service.outbox import OutboxWorker


@dataclass
class Runtime:
    settings: Settings
    config: ApiConfig
    db: Database
    keys: KeyCache
    limiter: RateLimiter
    leases: Leases
    service: Readloom | None = None
    checkpointer: Any = None
    outbox: OutboxWorker | None = None
    jobs: QuestionJobRunner | None = None
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ready: bool = False
    draining: bool = False  # told to stop: finishing what is open, taking nothing new
    load_error: str | None = None
    loader: Any = None

    def require_service(self) -> Readloom:
        from readloom.api.problems import Unavailable

        if self.load_error:
            raise Unavailable(f"the tutoring service failed to load ({self.load_error})")
        if self.service is None or not self.ready:
            raise Unavailable("the tutoring service is starting; retry shortly")
        return self.service
