"""Guardrails: policy, content safety, prompt injection, PII redaction, audit and alerts.

Importing the package is cheap: the suite (spaCy + Presidio) loads only when asked for,
so modules that need just the contract (``guardrails.base``) do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from readloom.guardrails.audit import Alert, AuditLog
    from readloom.guardrails.base import GuardContext, GuardOutcome, GuardResult, run_guards
    from readloom.guardrails.pii import PiiRedactor
    from readloom.guardrails.suite import GuardrailSuite, build_input_guards, build_output_guards
    from readloom.guardrails.vault import Vault

_LAZY = {
    "Alert": "audit", "AuditLog": "audit", "GuardContext": "base", "GuardOutcome": "base",
    "GuardResult": "base", "run_guards": "base", "PiiRedactor": "pii", "Vault": "vault",
    "GuardrailSuite": "suite", "build_input_guards": "suite", "build_output_guards": "suite",
}  # fmt: skip

__all__ = [
    "Alert", "AuditLog", "GuardContext", "GuardOutcome", "GuardResult", "GuardrailSuite",
    "PiiRedactor", "Vault", "build_input_guards", "build_output_guards", "run_guards",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'readloom.guardrails' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"readloom.guardrails.{_LAZY[name]}"), name)
