"""Roles, tenants, size limits and failing guards (fail closed)."""

from __future__ import annotations

import threading

import pytest

from readloom.guardrails.base import GuardContext, GuardResult, run_guards
from readloom.guardrails.policy import (
    GUARD_FAILED_REPLY,
    PolicyGuard,
    SizeLimitGuard,
    TimedGuard,
    can_reidentify,
)


@pytest.mark.parametrize(
    ("role", "mode", "tenant", "session_tenant", "allowed", "reason"),
    [
        ("student", "tutor", "t1", None, True, None),
        ("student", "questions", "t1", None, False, "mode_forbidden"),
        ("teacher", "questions", "t1", "t1", True, None),
        ("teacher", "tutor", "t1", "t1", True, None),
        ("partner", "questions", "t1", None, True, None),
        ("admin", "tutor", "t1", "t1", True, None),
        ("student", "tutor", "t1", "t2", False, "tenant_mismatch"),
        ("teacher", "questions", "t2", "t1", False, "tenant_mismatch"),
        ("janitor", "tutor", "t1", None, False, "unknown_role"),
    ],
)
def test_roles_modes_and_tenants(role, mode, tenant, session_tenant, allowed, reason):
    ctx = GuardContext(role=role, mode=mode, tenant=tenant, session_tenant=session_tenant)
    result = PolicyGuard().check("hi", ctx)
    assert (result.allowed, result.reason) == (allowed, reason)


@pytest.mark.parametrize(("length", "allowed"), [(0, True), (2000, True), (2001, False)])
def test_size_limit(length, allowed):
    result = SizeLimitGuard(max_chars=2000).check("a" * length, GuardContext())
    assert result.allowed is allowed
    if not allowed:
        assert result.reason == "input_too_long" and result.text == ""
        assert "2000" in (result.scripted_reply or "")


@pytest.mark.parametrize(("role", "ok"), [("student", True), ("teacher", True),
                                          ("partner", False), ("admin", False)])  # fmt: skip
def test_who_may_see_real_values(role, ok):
    assert can_reidentify(role) is ok


class Exploding:
    name = "exploding"

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        raise RuntimeError("boom with student text: Maria 555-201-8834")


class Stuck:
    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        self.release.wait(timeout=5)
        return GuardResult(text=text, allowed=True)


class Passing:
    name = "passing"

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        return GuardResult(text=text.upper(), allowed=True)


def test_a_raising_guard_denies(caplog):
    outcome = run_guards([TimedGuard(Exploding(), timeout_s=1), Passing()], "hi", GuardContext())
    assert (outcome.allowed, outcome.denied_by, outcome.reason) == (
        False,
        "exploding",
        "guard_error",
    )
    assert outcome.scripted_reply == GUARD_FAILED_REPLY
    assert "passing" not in outcome.results  # fail fast: nothing after the failure runs
    assert "Maria" not in caplog.text and "555" not in caplog.text


def test_a_guard_past_its_deadline_denies():
    stuck = Stuck()
    try:
        outcome = run_guards([TimedGuard(stuck, timeout_s=0.05)], "hi", GuardContext())
    finally:
        stuck.release.set()
    assert (outcome.allowed, outcome.reason) == (False, "guard_timeout")
    assert outcome.timings_ms["stuck"] < 2000


def test_a_passing_guard_result_is_returned_unchanged():
    result = TimedGuard(Passing(), timeout_s=1).check("hi", GuardContext())
    assert (result.allowed, result.text) == (True, "HI")
