"""Storage fixtures: a migrated database on SQLite and, when
``READLOOM_TEST_POSTGRES_URL`` is set, on a fresh Postgres database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from readloom.settings import Settings

PG_URL = os.environ.get("READLOOM_TEST_POSTGRES_URL")
PG_SKIP = 'READLOOM_TEST_POSTGRES_URL is not set (run: eval "$(bash .ci/postgres.sh)")'


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    import psycopg

    url = make_url(admin_url)
    name = f"rl_test_{uuid.uuid4().hex[:12]}"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason=PG_SKIP)],
        ),
    ]
)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(home=tmp_path / "home")
        return
    assert PG_URL
    with fresh_postgres_database(PG_URL) as url:
        yield Settings(home=tmp_path / "home", database_url=url)
