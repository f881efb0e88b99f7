"""What every suite shares in one run: settings, the services (models load once), the seed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from readloom.settings import Settings

if TYPE_CHECKING:
    from readloom.agents.services import Services

EVALS_DIR = Path(__file__).resolve().parents[1]
DATASETS_DIR = EVALS_DIR / "datasets"
T = TypeVar("T")

KEYED_PROVIDERS = {"openai": "openai_api_key", "anthropic": "anthropic_api_key"}


@dataclass
class EvalContext:
    settings: Settings
    seed: int = 20240611
    datasets_dir: Path = DATASETS_DIR
    _services: Any = field(default=None, repr=False)

    @property
    def data_path(self) -> Path:
        return Path(self.settings.data_path)

    def services(self) -> Services:
        """Presidio, spaCy, the embedding model and Chroma: built on first use, once a run."""
        if self._services is None:
            from readloom.service import build_services

            self._services = build_services(self.settings)
        return self._services

    def rng(self, salt: str) -> random.Random:
        """A deterministic random stream per purpose, so suites do not perturb each other."""
        return random.Random(f"{self.seed}:{salt}")

    def sample(self, items: Sequence[T], k: int, salt: str) -> list[T]:
        """A deterministic subsample in the original order (all items when k >= len)."""
        if k >= len(items):
            return list(items)
        picked = sorted(self.rng(salt).sample(range(len(items)), k))
        return [items[i] for i in picked]

    def keyed_providers(self) -> list[str]:
        """Providers in the chain that have a key (a real model answers, not the rules)."""
        return [
            p for p in self.settings.providers
            if p in KEYED_PROVIDERS and getattr(self.settings, KEYED_PROVIDERS[p]) is not None
        ]  # fmt: skip

    def effective_providers(self) -> list[str]:
        """The chain that can actually answer: keyed providers, then offline if listed."""
        keyed = set(self.keyed_providers())
        return [p for p in self.settings.providers if p in keyed or p == "offline"]

    def configured_models(self) -> dict[str, str]:
        models = {"openai": self.settings.openai_model, "anthropic": self.settings.anthropic_model}
        return {p: models.get(p, "rule-based") for p in self.settings.providers}
