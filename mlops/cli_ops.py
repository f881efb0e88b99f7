"""``readloom experiment``, ``readloom monitor`` and ``readloom audit`` (see mlops/cli.py)."""

from __future__ import annotations

import click


def register_ops(main: click.Group) -> None:
    pass
