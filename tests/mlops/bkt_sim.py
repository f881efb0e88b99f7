"""Responses simulated from known BKT parameters (test data made here, no real students)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SKILLS = ("story_elements", "sequence_events", "cause_effect", "central_idea")
TRUE = {  # prior, learn, guess, slip
    "story_elements": (0.3, 0.25, 0.15, 0.08),
    "sequence_events": (0.2, 0.15, 0.2, 0.1),
    "cause_effect": (0.1, 0.2, 0.25, 0.05),
    "central_idea": (0.25, 0.1, 0.1, 0.12),
}


def simulate(n_students: int, steps: int, seed: int) -> list[tuple[str, str, int, int]]:
    rng = np.random.default_rng(seed)
    rows = []
    order = 0
    for u in range(n_students):
        for skill in SKILLS:
            prior, learn, guess, slip = TRUE[skill]
            known = rng.random() < prior
            for _ in range(steps):
                p = (1 - slip) if known else guess
                rows.append((f"s{seed}-{u}", skill, int(rng.random() < p), order))
                order += 1
                known = known or rng.random() < learn
    return rows


def write_csv(path: Path, rows, *, flip: bool = False, noise: float = 0.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "skill_name", "correct", "order_id"])
        for u, s, c, o in rows:
            if flip:
                c = 1 - c
            if noise and rng.random() < noise:
                c = int(rng.random() < 0.5)
            w.writerow([u, s, c, o])
    return path
