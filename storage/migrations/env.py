"""Alembic environment: the URL and metadata come from readloom, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from readloom.settings import get_settings
from readloom.storage.db import sync_engine
from readloom.storage.models import Base

config = context.config
settings = config.attributes.get("settings") or get_settings()
target_metadata = Base.metadata

# Any Postgres advisory lock id shared by every readloom process migrating one database.
_PG_LOCK_ID = 7_305_123_001


def run_migrations_online() -> None:
    engine = sync_engine(settings)
    with engine.connect() as connection:
        is_pg = connection.dialect.name == "postgresql"
        if is_pg:  # several workers starting at once migrate one at a time
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_ID})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_pg:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_ID})
                connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("readloom runs migrations online only (storage.db.migrate)")
run_migrations_online()
