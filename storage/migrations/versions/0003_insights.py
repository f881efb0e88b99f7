"""insights: alert timings, class assignments, family links, analytics snapshots

Revision ID: 0003_insights
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_insights"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_timings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("student_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("trouble_began_at", TS, nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("notified_at", TS, nullable=True),
        sa.Column("seen_at", TS, nullable=True),
        sa.Column("seen_how", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_alert_timings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_timings")),
        sa.UniqueConstraint("tenant_id", "alert_id", name=op.f("uq_alert_timings_tenant_id_alert_id")),
    )  # fmt: skip
    op.create_index("ix_alert_timings_tenant_student", "alert_timings", ["tenant_id", "student_id"])
    op.create_table(
        "class_assignments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("class_id", sa.String(length=64), nullable=False),
        sa.Column("passage_id", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_class_assignments_class_id_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_class_assignments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_assignments")),
        sa.UniqueConstraint("class_id", "passage_id", name=op.f("uq_class_assignments_class_id_passage_id")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_class_assignments_class_id"), "class_assignments", ["class_id"]
    )
    op.create_table(
        "family_links",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("class_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("last_opened_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_family_links_class_id_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_family_links_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_links")),
    )  # fmt: skip
    op.create_index("ix_family_links_tenant_student", "family_links", ["tenant_id", "student_id"])
    op.create_table(
        "insights_snapshots",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("class_id", sa.String(length=64), nullable=False),
        sa.Column("watermark", sa.String(length=200), nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_insights_snapshots_class_id_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_insights_snapshots_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_insights_snapshots")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_insights_snapshots_class_id"), "insights_snapshots", ["class_id"]
    )


def downgrade() -> None:
    op.drop_table("insights_snapshots")
    op.drop_table("family_links")
    op.drop_table("class_assignments")
    op.drop_table("alert_timings")
