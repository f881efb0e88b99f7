"""passage ownership: visibility, creator, and a claim that is invisible until ready

Revision ID: 0003_sec
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_sec"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_passages") as batch:
        batch.add_column(
            sa.Column("visibility", sa.String(length=16), nullable=False, server_default="tenant")
        )
        batch.add_column(sa.Column("created_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("ready", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("tenant_passages") as batch:
        batch.drop_column("ready")
        batch.drop_column("created_by")
        batch.drop_column("visibility")
