"""index cards by case (the case lists behind 按时办结率 and 超期件 look cards up by case)

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cards_case", "cards", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cards_case", table_name="cards")
