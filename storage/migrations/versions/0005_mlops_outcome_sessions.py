"""experiment outcomes name the tutoring session they came from (per-session metrics)

Revision ID: 0005_mlops
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_mlops"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiment_outcomes") as batch:
        batch.add_column(sa.Column("session_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiment_outcomes") as batch:
        batch.drop_column("session_id")
