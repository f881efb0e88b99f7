"""Response logs for fitting and evaluating BKT: CSV in, integer-coded numpy arrays out.

Columns are pyBKT's names (``user_id, skill_name, correct, order_id``); other columns are
ignored. Public logs such as ASSISTments 2009 repeat rows, so duplicates on
(user_id, order_id, skill_name) are dropped (first kept), and rows are put in
``order_id`` order (stable, so ties keep file order).
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from readloom.errors import InputError
from readloom.mlops.data_quality import DEFAULT_MAX_BAD_SHARE, QualityReport, RowChecker

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("user_id", "skill_name", "correct", "order_id")
_CORRECT = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}


@dataclass(frozen=True)
class ResponseLog:
    """One row per response, in chronological (order_id) order."""

    user: np.ndarray  # int64 codes into users
    skill: np.ndarray  # int64 codes into skills
    correct: np.ndarray  # int8, 0/1
    order: np.ndarray  # float64 order_id
    users: list[str]
    skills: list[str]
    duplicates_dropped: int = 0
    quality: QualityReport | None = None  # set by load_responses: rows checked, bad rows

    def __len__(self) -> int:
        return len(self.correct)

    def subset(self, mask: np.ndarray) -> ResponseLog:
        """Rows where ``mask`` holds, keeping the code books (so codes stay comparable)."""
        return ResponseLog(
            self.user[mask],
            self.skill[mask],
            self.correct[mask],
            self.order[mask],
            self.users,
            self.skills,
        )


def from_records(
    users: list[str], skills: list[str], correct: list[int], order: list[float]
) -> ResponseLog:
    """Build a log from parallel columns: validate, drop duplicates, sort by order."""
    n = len(correct)
    if not (len(users) == len(skills) == len(order) == n):
        raise InputError("columns must have the same length")
    if n == 0:
        raise InputError("no responses in the data")
    user_names, user_codes = np.unique(
        np.asarray(users, dtype=object).astype(str), return_inverse=True
    )
    skill_names, skill_codes = np.unique(
        np.asarray(skills, dtype=object).astype(str), return_inverse=True
    )
    order_arr = np.asarray(order, dtype=np.float64)
    correct_arr = np.asarray(correct, dtype=np.int8)
    # duplicates on (user, order, skill): keep the first occurrence
    keys = np.stack([user_codes.astype(np.float64), order_arr, skill_codes.astype(np.float64)], 1)
    _, first = np.unique(keys, axis=0, return_index=True)
    keep = np.sort(first)
    dropped = n - len(keep)
    ordered = keep[np.argsort(order_arr[keep], kind="stable")]
    return ResponseLog(
        user=user_codes[ordered].astype(np.int64),
        skill=skill_codes[ordered].astype(np.int64),
        correct=correct_arr[ordered],
        order=order_arr[ordered],
        users=[str(u) for u in user_names],
        skills=[str(s) for s in skill_names],
        duplicates_dropped=dropped,
    )


def load_responses(
    path: Path | str, *, max_bad_share: float = DEFAULT_MAX_BAD_SHARE
) -> ResponseLog:
    """Read a response CSV, checking every row: bad rows are reported by line and reason
    (never their values) and left out; above ``max_bad_share`` bad rows the load fails."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {path.name}: {type(exc).__name__}") from None
    users: list[str] = []
    skills: list[str] = []
    correct: list[int] = []
    order: list[float] = []
    checker = RowChecker(path.name, "response", max_bad_share=max_bad_share)
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path.name} is empty")
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"{path.name} is missing column(s) {', '.join(missing)} "
                f"(required: {', '.join(REQUIRED_COLUMNS)})"
            )
        iu, isk, ic, io = (header.index(c) for c in REQUIRED_COLUMNS)
        width = max(iu, isk, ic, io)
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) <= width:
                checker.bad(line, "too few fields")
                continue
            value = row[ic].strip()
            if value not in _CORRECT:
                checker.bad(line, "'correct' must be 0 or 1")
                continue
            user, skill = row[iu].strip(), row[isk].strip()
            if not user or not skill:
                checker.bad(line, f"empty '{'user_id' if not user else 'skill_name'}'")
                continue
            try:
                when = float(row[io])
            except ValueError:
                checker.bad(line, "'order_id' must be a number")
                continue
            if not math.isfinite(when):
                checker.bad(line, "'order_id' must be finite")
                continue
            checker.good()
            order.append(when)
            users.append(user)
            skills.append(skill)
            correct.append(_CORRECT[value])
    report = checker.finish()
    result = replace(from_records(users, skills, correct, order), quality=report)
    log.info(
        "responses_loaded rows=%d bad_rows=%d duplicates_dropped=%d users=%d skills=%d",
        len(result),
        report.bad,
        result.duplicates_dropped,
        len(result.users),
        len(result.skills),
    )
    return result


def write_responses(path: Path | str, data: ResponseLog) -> None:
    """Write a log back as CSV (used to hand identical splits to other tools)."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUIRED_COLUMNS)
        for u, s, c, o in zip(data.user, data.skill, data.correct, data.order, strict=True):
            writer.writerow([data.users[u], data.skills[s], int(c), _fmt_order(o)])


def _fmt_order(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
