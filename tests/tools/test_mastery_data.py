"""Response CSVs: clear errors, duplicates dropped, chronological order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from readloom.errors import InputError
from readloom.tools.mastery_data import load_responses, write_responses


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "log.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "user_id,skill_name,order_id\n1,a,1\n")
    with pytest.raises(InputError, match="missing column.*correct"):
        load_responses(path)


@pytest.mark.parametrize("value", ["2", "yes", "", "-1"])
def test_correct_must_be_zero_or_one(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, f"user_id,skill_name,correct,order_id\n1,a,1,1\n1,a,{value},2\n")
    with pytest.raises(InputError, match=r"log.csv:3: 'correct' must be 0 or 1"):
        load_responses(path)


def test_bad_order_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'order_id' must be a number"):
        load_responses(_write(tmp_path, "user_id,skill_name,correct,order_id\n1,a,1,x\n"))
    with pytest.raises(InputError, match="no responses"):
        load_responses(_write(tmp_path, "user_id,skill_name,correct,order_id\n"))
    with pytest.raises(InputError, match="empty"):
        load_responses(_write(tmp_path, ""))


def test_duplicates_dropped_order_respected_extra_columns_ignored(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "hint_count,order_id,user_id,correct,skill_name\n"
        "0,30,u1,1,a\n"
        "5,10,u1,0,a\n"
        "0,30,u1,1,a\n"  # exact duplicate
        "9,10,u1,1,a\n"  # same (user, order, skill): the first one is kept
        "0,20,u2,1,b\n"
        "0,10,u1,1,b\n",  # same order_id, another skill: kept
    )
    data = load_responses(path)
    assert len(data) == 4 and data.duplicates_dropped == 2
    assert list(data.order) == [10, 10, 20, 30]
    rows = [
        (data.users[u], data.skills[s], int(c))
        for u, s, c in zip(data.user, data.skill, data.correct, strict=True)
    ]
    assert rows == [("u1", "a", 0), ("u1", "b", 1), ("u2", "b", 1), ("u1", "a", 1)]


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    path = _write(tmp_path, "user_id,skill_name,correct,order_id\nu1,a,1,3\nu2,a,0,1\nu1,b,0,2\n")
    data = load_responses(path)
    out = tmp_path / "copy.csv"
    write_responses(out, data)
    again = load_responses(out)
    assert np.array_equal(again.correct, data.correct) and np.array_equal(again.order, data.order)
    assert [again.users[u] for u in again.user] == [data.users[u] for u in data.user]
