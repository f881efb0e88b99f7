"""What the application core needs of the running server, without depending on it.

The HTTP layer's ``api.runtime.Runtime`` satisfies this structurally; the core names only
the shared pieces it uses (settings, database, leases, outbox, turn limiter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from readloom.service.outbox import OutboxWorker
    from readloom.settings import Settings
    from readloom.storage.db import Database
    from readloom.storage.leases import Leases
    from readloom.storage.ratelimit import Limiter


class HasLimiter(Protocol):
    @property
    def limiter(self) -> Limiter: ...


class CoreRuntime(Protocol):
    """The server's shared state the core reads: read-only, so any holder fits."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def leases(self) -> Leases: ...
    @property
    def instance_id(self) -> str: ...
    @property
    def outbox(self) -> OutboxWorker | None: ...
    @property
    def limiter(self) -> HasLimiter: ...
