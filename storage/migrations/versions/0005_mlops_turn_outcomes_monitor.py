"""experiment outcomes name their tutoring session (per-session metrics); the catalogue
keeps each passage's estimated reading level; served recommendations are logged (no
student) for the monitor's recommendation mix

Revision ID: 0005_mlops
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_mlops"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("experiment_outcomes") as batch:
        batch.add_column(sa.Column("session_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("passage_catalogue") as batch:
        batch.add_column(sa.Column("reading_level", sa.Float(), nullable=True))
    op.create_table(
        "recommendation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("passage_id", sa.String(length=200), nullable=True),
        sa.Column("skill_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"],
            name=op.f("fk_recommendation_events_tenant_id_tenants"), ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_events")),
    )
    op.create_index(
        op.f("ix_recommendation_events_tenant_id"), "recommendation_events", ["tenant_id"]
    )
    op.create_index(
        op.f("ix_recommendation_events_created_at"), "recommendation_events", ["created_at"]
    )


def downgrade() -> None:
    op.drop_table("recommendation_events")
    with op.batch_alter_table("passage_catalogue") as batch:
        batch.drop_column("reading_level")
    with op.batch_alter_table("experiment_outcomes") as batch:
        batch.drop_column("session_id")
