"""HTTP-layer knobs (limits, worker cadences), with defaults a district would expect."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ApiConfig(BaseModel):
    max_body_bytes: int = Field(256 * 1024, description="Largest request body (413 above)")
    max_ingest_bytes: int = Field(8 * 1024 * 1024, description="Largest passage upload")
    rate_limit_per_minute: int | None = Field(
        None, description="Requests per minute per key; None: settings.rate_limit_per_minute"
    )
    sync_question_limit: int = Field(10, description="Above this count, a job is created")
    max_question_count: int = 50
    webhook_max_attempts: int = 8
    webhook_backoff_base_s: float = 2.0
    webhook_backoff_max_s: float = 3600.0
    webhook_timeout_s: float = 5.0
    outbox_poll_s: float = 1.0
    job_poll_s: float = Field(1.0, description="How often a worker looks for unleased jobs")
    key_cache_ttl_s: float = 30.0
