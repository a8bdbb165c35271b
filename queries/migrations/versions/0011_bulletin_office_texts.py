"""each office's own bulletin texts (版头, 文号 pattern, 主送, 依据, 工作要求, 版记)

Written with an explicit create_table call (matching queries/bulletin_store.py; a test compares
the two), like 0003.

Revision ID: 0011
Revises: 0009b
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulletin_office_texts",
        sa.Column("scope_key", sa.String(length=200), nullable=False,
                  comment="the office: city:<code> / county:<code> / sector:<code>:<sector>"),
        sa.Column("key", sa.String(length=40), nullable=False,
                  comment="issuer / doc_number / recipients / basis / requirements / cc / …"),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("scope_key", "key"),
        comment="each office's own texts of its bulletins (版头, 主送, 依据, 工作要求, 版记)",
    )


def downgrade() -> None:
    op.drop_table("bulletin_office_texts")
