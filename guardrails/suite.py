"""The guardrail suite: built once per process (it loads spaCy and Presidio), it holds the
redactor, the vault, the audit log and both guard chains. The guardrail agent calls
``check_input`` / ``check_output``; the LLM gate calls ``redactor.redact``; ingestion calls
``check_passage``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache

from readloom.errors import GuardrailDenied
from readloom.guardrails.age import AgeAppropriatenessGuard
from readloom.guardrails.audit import AuditLog
from readloom.guardrails.base import (
    Guard,
    GuardContext,
    GuardOutcome,
    GuardResult,
    run_guards,
)
from readloom.guardrails.injection import InjectionGuard, check_metadata, check_passage
from readloom.guardrails.lexicon import fold
from readloom.guardrails.pii import PiiGuard, PiiRedactor
from readloom.guardrails.policy import PolicyGuard, SizeLimitGuard, TimedGuard, can_reidentify
from readloom.guardrails.safety import SafetyGuard
from readloom.guardrails.vault import Vault
from readloom.settings import Settings

log = logging.getLogger(__name__)


ALERT_SEVERITIES = frozenset({"medium", "high", "critical"})
PUBLISHED_RECHECK_S = 1.0  # how long one worker's view of published passages is reused


def build_input_guards(settings: Settings, *, redactor: PiiRedactor) -> list[Guard]:
    """guard_in, in order: who may ask, how much, then what the text says.

    Safety and injection read the raw text (before redaction): a disclosure is recognised
    whatever names it contains, and an instruction in Spanish or German is not taken apart
    by a redactor that reads its unknown words as names. PII redacts last; its text is what
    is stored.

    Presidio/spaCy run on a worker thread with a hard deadline. The other checks are plain
    Python, bounded regexes and a dot product on text the size limit already capped, so they run
    inline (a thread hop costs more than they do on a busy machine); their deadline is
    checked when they return. Either way an exception or an overrun denies.
    """
    timeout = settings.guard_timeout_s
    return [
        TimedGuard(PolicyGuard(), timeout_s=timeout, inline=True),
        TimedGuard(
            SizeLimitGuard(max_chars=settings.max_input_chars), timeout_s=timeout, inline=True
        ),
        TimedGuard(SafetyGuard(), timeout_s=timeout, inline=True),
        TimedGuard(InjectionGuard(), timeout_s=timeout, inline=True),
        TimedGuard(PiiGuard(redactor), timeout_s=timeout),
    ]


def build_output_guards(settings: Settings, *, redactor: PiiRedactor) -> list[Guard]:
    """guard_out: no personal data the model made up or echoed, and fit for the grade."""
    timeout = settings.guard_timeout_s
    return [
        TimedGuard(PiiGuard(redactor), timeout_s=timeout),
        TimedGuard(AgeAppropriatenessGuard(), timeout_s=timeout),
    ]


class GuardrailSuite:
    """Everything the guardrail agent needs, created once per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        redactor: PiiRedactor | None = None,
        audit: AuditLog | None = None,
    ):
        self.settings = settings
        self.redactor = redactor or PiiRedactor(settings)
        self.vault: Vault = self.redactor.vault
        self.audit = audit or AuditLog(settings)
        self.input_guards = build_input_guards(settings, redactor=self.redactor)
        self.output_guards = build_output_guards(settings, redactor=self.redactor)
        self._policy, self._content = self.input_guards[:2], self.input_guards[2:]
        self._linked: set[tuple[str, str]] = set()
        self._is_shipped: Callable[[str, str], bool] | None = None
        self._reviewed: set[tuple[str, str]] = set()
        self._published: TTLCache[str, str | None] = TTLCache(
            4096, PUBLISHED_RECHECK_S, timer=time.monotonic
        )
        self._published_lock = threading.Lock()

    # --- guard_in ----------------------------------------------------------------------

    def check_input(
        self,
        text: str,
        ctx: GuardContext,
        *,
        mode: str | None = None,
        student_id: str | None = None,
    ) -> GuardOutcome:
        """Run guard_in. The outcome's ``text`` is always safe to store: redacted, or empty
        when redaction did not complete. A denial carries ``reason`` and, for children, a
        ``scripted_reply`` to send instead of any model output."""
        ctx = dataclasses.replace(
            ctx,
            direction="input",
            mode=mode or ctx.mode,
            student_id=student_id or ctx.student_id,
        )
        outcome = run_guards(self._policy, text, ctx, fail_fast=True)
        if outcome.allowed:
            # every content check runs even after a denial: a disclosure still gets its
            # entity types for the alert, and the stored text is still the redacted one
            content = run_guards(self._content, text, ctx, fail_fast=False)
            content.timings_ms = outcome.timings_ms | content.timings_ms
            outcome = content
        pii = outcome.results.get("pii")
        if pii is None or not pii.allowed:
            outcome.text = ""
        try:
            self._link(ctx)
            self._audit_input(outcome, ctx)
        except Exception as exc:  # noqa: BLE001 - the decision stands; the loss is logged
            log.error("guard_in.audit_failed error=%s", type(exc).__name__)
        log.info(
            "guard_in allowed=%s denied_by=%s reason=%s entities=%d ms=%.1f",
            outcome.allowed, outcome.denied_by, outcome.reason, len(outcome.entities),
            sum(outcome.timings_ms.values()),
        )  # fmt: skip
        return outcome

    def _link(self, ctx: GuardContext) -> None:
        """Remember whose session this is, so ``vault.forget_student`` can find it."""
        key = (ctx.session_id, ctx.student_id)
        if ctx.student_id != "anonymous" and key not in self._linked:
            self.vault.link_session(*key)
            self._linked.add(key)

    def _audit_input(self, outcome: GuardOutcome, ctx: GuardContext) -> None:
        who = {
            "tenant": ctx.tenant,
            "role": ctx.role,
            "student_id": ctx.student_id,
            "session_id": ctx.session_id,
        }
        pii = outcome.results.get("pii")
        entities = pii.entities if pii is not None else ()
        if entities:
            self.audit.record("redaction", guard="pii", entities=entities, **who)
        if outcome.allowed or outcome.denied_by is None:
            return
        denial = outcome.results[outcome.denied_by]
        self.audit.record(
            "block",
            guard=outcome.denied_by,
            rule=denial.reason,
            entities=entities,
            severity=denial.severity,
            **who,
        )
        if outcome.denied_by == "safety" and denial.severity in ALERT_SEVERITIES:
            self.audit.queue_alert(
                tenant=ctx.tenant,
                session_id=ctx.session_id,
                student_id=ctx.student_id,
                severity=denial.severity,
                kind=denial.reason or "safety",
                entities=entities,
                confidence=denial.risk if denial.risk is not None else 1.0,
            )

    # --- guard_out ---------------------------------------------------------------------

    def check_output(
        self, text: str, ctx: GuardContext, *, reidentify: bool = False
    ) -> GuardOutcome:
        """Run guard_out on model output (still pseudonymised). With ``reidentify`` the
        allowed text gets real values back, only for roles that may see them."""
        ctx = dataclasses.replace(ctx, direction="output")
        outcome = run_guards(self.output_guards, text, ctx, fail_fast=True)
        try:
            self._audit_output(outcome, ctx)
        except Exception as exc:  # noqa: BLE001 - the decision stands; the loss is logged
            log.error("guard_out.audit_failed error=%s", type(exc).__name__)
        if not outcome.allowed:
            outcome.text = ""
        elif reidentify and can_reidentify(ctx.role):
            outcome.text = self.redactor.reidentify(outcome.text, session_id=ctx.session_id)
        return outcome

    def _audit_output(self, outcome: GuardOutcome, ctx: GuardContext) -> None:
        who = {
            "tenant": ctx.tenant,
            "role": ctx.role,
            "student_id": ctx.student_id,
            "session_id": ctx.session_id,
        }
        pii = outcome.results.get("pii")
        if pii is not None and pii.entities:
            self.audit.record("output_masked", guard="pii", entities=pii.entities, **who)
        if not outcome.allowed and outcome.denied_by:
            denial = outcome.results[outcome.denied_by]
            self.audit.record(
                "output_block", guard=outcome.denied_by, rule=denial.reason,
                severity=denial.severity, **who,
            )  # fmt: skip

    # --- passages ----------------------------------------------------------------------

    def check_passage(self, passage: object) -> GuardResult:
        """For ingestion: raises ``GuardrailDenied`` (code ``passage_injection``) when a
        passage carries instructions for a model; returns the clean result otherwise.
        Accepts a ``retrieval.models.Passage`` or its text."""
        text = passage if isinstance(passage, str) else getattr(passage, "text", None)
        if not isinstance(text, str):
            raise TypeError("check_passage needs a Passage or its text")
        if not isinstance(passage, str):
            fields = {
                "title": getattr(passage, "title", "") or "",
                "characters": "\n".join(getattr(passage, "characters", None) or []),
                "topics": "\n".join(getattr(passage, "topics", None) or []),
                "source": getattr(passage, "source", "") or "",
            }
            bad = check_metadata(fields)
            if bad is not None:
                log.warning("passage.refused reason=metadata_injection field=%s", bad)
                raise GuardrailDenied(
                    f"The passage's {bad} contains instructions aimed at an AI model or hidden "
                    "characters, so the passage was not ingested.",
                    code="passage_injection",
                )
        result = check_passage(text)
        if not result.allowed:
            log.warning("passage.refused reason=%s risk=%s", result.reason, result.risk)
            raise GuardrailDenied(
                "This passage contains instructions aimed at an AI model and was not ingested.",
                code="passage_injection",
            )
        return result

    def passage_allow_list(self, passage_text: str) -> frozenset[str]:
        """Names and places in a passage's text, for a passage already known to be trusted
        (prefer ``allow_list_for``, which decides that)."""
        return self.redactor.passage_allow_list(passage_text)

    # --- which passages may exempt names from redaction ----------------------------------

    def trust_shipped(self, is_shipped: Callable[[str, str], bool]) -> None:
        """How to recognise the shipped corpus (id and unchanged text)."""
        self._is_shipped = is_shipped

    def trust_passage(self, passage_id: str, text: str) -> None:
        """An admin reviewed and published this passage (this exact text), in this process;
        other workers read it from ``tenant_passages.reviewed_digest``."""
        self._reviewed.add((passage_id, hashlib.sha256(text.encode()).hexdigest()))

    def passage_trusted(self, passage: Any) -> bool:
        pid, text = getattr(passage, "passage_id", ""), getattr(passage, "text", "")
        if self._is_shipped is not None and self._is_shipped(pid, text):
            return True
        digest = hashlib.sha256(text.encode()).hexdigest()
        return (pid, digest) in self._reviewed or self._published_digest(pid) == digest

    def _published_digest(self, passage_id: str) -> str | None:
        """The reviewed digest of a published passage, from the one database: a publish by
        any worker counts here within ``PUBLISHED_RECHECK_S``. A failed read trusts
        nothing (names stay redacted)."""
        with self._published_lock:
            if passage_id in self._published:
                return self._published[passage_id]
        from sqlalchemy import select

        from readloom.storage.models import TenantPassage
        from readloom.storage.stores import store_db

        try:
            with store_db(self.settings).read() as conn:
                row = conn.execute(
                    select(TenantPassage.reviewed_digest).where(
                        TenantPassage.passage_id == passage_id,
                        TenantPassage.visibility == "shared",
                        TenantPassage.ready.is_(True),
                    )
                ).first()
        except Exception as exc:  # noqa: BLE001 - fail closed: not trusted
            log.warning("published_lookup_failed error=%s", type(exc).__name__)
            return None
        digest = row[0] if row else None
        with self._published_lock:
            self._published[passage_id] = digest
        return digest

    def allow_list_for(self, passage: Any) -> frozenset[str]:
        """Names not to redact while a child reads ``passage``: none unless the passage is
        shipped or admin-reviewed (whoever ingests must not choose what is exempt); then the
        names its text contains and the listed characters that occur in the text."""
        if not self.passage_trusted(passage):
            return frozenset()
        text = passage.text
        folded = fold(text)
        listed = {
            c.strip()
            for c in getattr(passage, "characters", None) or []
            if c.strip() and re.search(rf"(?<!\w){re.escape(fold(c.strip()))}(?!\w)", folded)
        }
        return frozenset(listed) | self.redactor.passage_allow_list(text)
