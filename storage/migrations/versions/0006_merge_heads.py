"""join the revisions that branched from 0004 into one head

Revision ID: 0006
Revises: the 0005 revisions below (separate tables and columns, so their order is free)
"""

revision = "0006"
down_revision = ("0005_db", "0005_sec", "0005_mlops")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
