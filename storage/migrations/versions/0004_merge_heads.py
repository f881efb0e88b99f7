"""join the revisions that branched from 0002 into one head

Revision ID: 0004
Revises: the 0003 revisions below (they touch separate tables, so their order is free)
"""

revision = "0004"
down_revision = ("0003_db", "0003_sec", "0003_latency", "0003_insights", "0003_mlops")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
