"""``readloom monitor`` and ``readloom audit fairness``."""

from __future__ import annotations

import click


def register_monitor(main: click.Group) -> None:
    pass
