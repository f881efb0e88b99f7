"""Row-by-row checks for every import (mastery CSV, xAPI statements, passage JSONL).

Each importer validates each row against its schema and tells a ``RowChecker`` which rows
were good and which bad (line number + a reason code or short message, never the row's
text: rows may carry students' words). A bad row is reported, never silently dropped, and
an import whose share of bad rows exceeds ``max_bad_share`` fails as a whole.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field

from readloom.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_MAX_BAD_SHARE = 0.05  # settings.import_max_bad_share
REPORTED_ROWS = 50  # bad rows listed in an error message / report


class BadRow(BaseModel):
    line: int
    reason: str


class QualityReport(BaseModel):
    source: str
    kind: str
    rows: int = 0
    bad: int = 0
    max_bad_share: float
    bad_rows: list[BadRow] = Field(default_factory=list, description="first bad rows")
    location: str = Field(default="{source}:{line}", description="how a row is named")

    def where(self, line: int) -> str:
        return self.location.format(source=self.source, line=line)

    @property
    def bad_share(self) -> float:
        return self.bad / self.rows if self.rows else 0.0

    @property
    def passed(self) -> bool:
        return self.rows > self.bad and self.bad_share <= self.max_bad_share

    def summary(self) -> str:
        lines = "; ".join(f"{self.where(b.line)}: {b.reason}" for b in self.bad_rows[:10])
        more = f" (and {self.bad - 10} more)" if self.bad > 10 else ""
        return (
            f"{self.source}: {self.bad} of {self.rows} {self.kind} rows are bad "
            f"({self.bad_share:.1%}, limit {self.max_bad_share:.0%}): {lines}{more}"
        )


class DataQualityError(InputError):
    """An import refused because too many rows failed their schema."""

    def __init__(self, report: QualityReport):
        super().__init__(report.summary())
        self.report = report


class RowChecker:
    def __init__(
        self,
        source: str,
        kind: str,
        *,
        max_bad_share: float = DEFAULT_MAX_BAD_SHARE,
        location: str = "{source}:{line}",
    ):
        if not 0.0 <= max_bad_share < 1.0:
            raise InputError("max_bad_share must be in [0, 1)")
        self.report = QualityReport(
            source=source, kind=kind, max_bad_share=max_bad_share, location=location
        )

    def good(self) -> None:
        self.report.rows += 1

    def bad(self, line: int, reason: str) -> None:
        self.report.rows += 1
        self.report.bad += 1
        if len(self.report.bad_rows) < REPORTED_ROWS:
            self.report.bad_rows.append(BadRow(line=line, reason=reason[:200]))

    def finish(self) -> QualityReport:
        """The report; raises ``DataQualityError`` when the import must fail."""
        r = self.report
        if r.rows == 0:
            raise InputError(f"{r.source}: no {r.kind}s in the data")
        if not r.passed:
            raise DataQualityError(r)
        if r.bad:
            log.warning(
                "import_bad_rows source_kind=%s rows=%d bad=%d lines=%s",
                r.kind, r.rows, r.bad, ",".join(str(b.line) for b in r.bad_rows[:20]),
            )  # fmt: skip
        return r


def pydantic_reason(exc: Exception) -> str:
    """A short reason from a pydantic ValidationError: field and message, no input."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for e in errors(include_input=False, include_url=False)[:3]:
            loc = ".".join(str(x) for x in e.get("loc", ())) or "row"
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return "; ".join(parts)
    return type(exc).__name__
