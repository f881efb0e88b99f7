"""jobs run under leases: attempts and the last worker on each question job; the
server heartbeat table goes (leases die with their worker, nothing to time out)

Revision ID: 0005_db
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_db"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("question_jobs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
    op.drop_table("server_instances")


def downgrade() -> None:
    op.create_table(
        "server_instances",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_instances")),
    )
    with op.batch_alter_table("question_jobs") as batch:
        batch.drop_column("claimed_by")
        batch.drop_column("attempts")
