"""passage catalogue (listing and id checks without the vector store)

Revision ID: 0003_latency
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_latency"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passage_catalogue",
        sa.Column("passage_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("genre", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("characters", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("passage_id", name=op.f("pk_passage_catalogue")),
    )
    with op.batch_alter_table("passage_catalogue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passage_catalogue_grade"), ["grade"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("passage_catalogue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passage_catalogue_grade"))
    op.drop_table("passage_catalogue")
