"""model registry, experiments and scheduled-run claims

Revision ID: 0003_mlops
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_mlops"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("artifact", sa.JSON(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("data_sha256", sa.String(length=64), nullable=True),
        sa.Column("code_commit", sa.String(length=64), nullable=False),
        sa.Column("training", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("promoted_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_model_versions_name")),
    )
    op.create_index("ix_model_versions_name_stage", "model_versions", ["name", "stage"])
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("factor", sa.String(length=16), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_experiments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
    )
    op.create_index(op.f("ix_experiments_tenant_id"), "experiments", ["tenant_id"])
    op.create_table(
        "experiment_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("experiment_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.String(length=200), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"],
            name=op.f("fk_experiment_outcomes_experiment_id_experiments"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_outcomes")),
    )
    op.create_index(
        op.f("ix_experiment_outcomes_experiment_id"), "experiment_outcomes", ["experiment_id"]
    )
    op.create_index(
        op.f("ix_experiment_outcomes_student_id"), "experiment_outcomes", ["student_id"]
    )
    op.create_index(
        "ix_experiment_outcomes_exp_metric", "experiment_outcomes", ["experiment_id", "metric"]
    )
    op.create_table(
        "scheduled_runs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("name", "period", name=op.f("pk_scheduled_runs")),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
    op.drop_table("experiment_outcomes")
    op.drop_table("experiments")
    op.drop_table("model_versions")
