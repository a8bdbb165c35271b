"""index the 差评 by rating time (the bulletin's and the page's open 差评 without a table scan)

"Valid 差评 rated up to the end of the month and not rectified by the as-of moment" reads every
bad review ever rated: with no index on level, PostgreSQL scanned all 15 million reviews (1.7 s
alone, 4–14 s while the rest of the bulletin's reads ran). Bad reviews are about 1 % of all
reviews; a partial index on them, carrying the columns the query filters and groups on, turns
it into an index-only range scan (0.7 s before VACUUM, far less after).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reviews_bad_rated", "reviews", ["rated_at"], unique=False,
        postgresql_where=sa.text("level <= 2"), sqlite_where=sa.text("level <= 2"),
        postgresql_include=["agency_code", "rectified_at", "appeal_upheld"],
    )


def downgrade() -> None:
    op.drop_index("ix_reviews_bad_rated", table_name="reviews")
