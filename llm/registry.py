"""Provider registry: name -> factory(settings). The only place providers are built.

Built-in tiers register by import path and are imported lazily, so importing the
registry never drags in an SDK (or the offline tier's spaCy) that the chain does not use.
Nothing outside ``readloom.llm`` may import this module: agents reach models only through
``readloom.llm.gate.LLMGate`` (a test scans the tree for violations).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from readloom.llm.base import Provider
from readloom.llm.router import FailoverRouter
from readloom.settings import Settings

log = logging.getLogger(__name__)

ProviderFactory = Callable[[Settings], Provider]


def _has_key(secret: Any) -> bool:
    return bool(secret and secret.get_secret_value())


# What a built-in SDK tier needs before it is worth importing (the SDKs take a second
# or more to import): the same test as the adapter's ``available()``, made first.
_PRECHECK: dict[str, Callable[[Settings], bool]] = {
    "openai": lambda s: _has_key(s.openai_api_key) or s.openai_base_url is not None,
    "anthropic": lambda s: _has_key(s.anthropic_api_key),
}

_FACTORIES: dict[str, ProviderFactory | str] = {
    "openai": "readloom.llm.openai_provider:OpenAIProvider",
    "anthropic": "readloom.llm.anthropic_provider:AnthropicProvider",
    "offline": "readloom.llm.offline:OfflineProvider",
}


def register(name: str, factory: ProviderFactory | str) -> None:
    """Add (or replace) a tier: a callable, or a ``"module:attr"`` import path."""
    _FACTORIES[name] = factory


def registered() -> list[str]:
    return list(_FACTORIES)


def resolve(name: str) -> ProviderFactory:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; registered: {registered()}") from None
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory  # type: ignore[return-value]


def build_providers(
    settings: Settings, *, factories: Mapping[str, ProviderFactory] | None = None
) -> list[Provider]:
    """Providers in ``READLOOM_PROVIDERS`` order, skipping those without a key.

    ``factories`` overrides entries for this call only (tests, benchmarks).
    """
    providers: list[Provider] = []
    for name in settings.providers:
        override = (factories or {}).get(name)
        precheck = _PRECHECK.get(name)
        builtin = override is None and isinstance(_FACTORIES.get(name), str)
        if builtin and precheck is not None and not precheck(settings):
            log.info("llm_provider_skipped provider=%s reason=no_key", name)
            continue
        factory = override or resolve(name)
        provider = factory(settings)
        if provider.available():
            providers.append(provider)
        else:
            log.info("llm_provider_skipped provider=%s reason=no_key", name)
    return providers


def build_router(
    settings: Settings, *, factories: Mapping[str, ProviderFactory] | None = None, **kw: Any
) -> FailoverRouter:
    return FailoverRouter(build_providers(settings, factories=factories), settings, **kw)
