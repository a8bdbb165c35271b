"""case_facts.completed_actively_reviewed: the numerator of 实际评价率 (actual_review_rate)

metrics.md §7 added 实际评价率: completed cases with at least one valid *active* review (not a
system default rating) over completed cases. 参评率 counts default ratings too, so it needs its
own additive measure at the fact grain. Existing rows get 0 until the next `xiaoneng compute`.

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_facts") as batch:
        batch.add_column(sa.Column("completed_actively_reviewed", sa.BigInteger(),
                                   server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("case_facts") as batch:
        batch.drop_column("completed_actively_reviewed")
