"""published passages: the digest of the text an admin reviewed, shared by every worker

Revision ID: 0005_sec
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_sec"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_passages") as batch:
        batch.add_column(sa.Column("reviewed_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_passages") as batch:
        batch.drop_column("reviewed_digest")
