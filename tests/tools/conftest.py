"""Fixtures for the tools tests: the shipped skill graph, settings with a private home,
and BKT response logs simulated from known parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from readloom.settings import PACKAGE_DATA, Settings
from readloom.tools.mastery_model import BKTParams
from readloom.tools.prerequisites import SkillGraph


@pytest.fixture(scope="session")
def graph() -> SkillGraph:
    return SkillGraph.load(PACKAGE_DATA / "skills.yaml")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def simulate_bkt(
    params: dict[str, BKTParams], n_students: int, n_steps: int, seed: int
) -> dict[str, list]:
    """Responses drawn from the BKT generative model (bounded loops: students x steps)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {"user_id": [], "skill_name": [], "correct": [], "order_id": []}
    order = 0
    for skill, p in params.items():
        known = rng.random(n_students) < p.prior
        for _ in range(n_steps):
            correct = np.where(
                known, rng.random(n_students) > p.slip, rng.random(n_students) < p.guess
            )
            for student in range(n_students):
                order += 1
                cols["user_id"].append(f"u{student}")
                cols["skill_name"].append(skill)
                cols["correct"].append(int(correct[student]))
                cols["order_id"].append(order)
            learns = rng.random(n_students) < p.learn
            forgets = rng.random(n_students) < p.forget
            known = np.where(known, ~forgets, learns)
    return cols


def write_csv(path: Path, cols: dict[str, list], extra: bool = False) -> Path:
    names = list(cols)
    lines = [",".join(names + (["hint_count"] if extra else []))]
    for row in zip(*(cols[n] for n in names), strict=True):
        lines.append(",".join(str(v) for v in row) + (",0" if extra else ""))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def simulate():
    return simulate_bkt


@pytest.fixture(scope="session")
def to_csv():
    return write_csv
