"""index reviews by rating time (the 好差评 page's month of reviews without a table scan)

The five-level distribution, the 差评 tags and the rectification status read the reviews rated
in the filter's months with no agency condition; the only index on rated_at led with
agency_code, so PostgreSQL scanned all reviews (1.8 GB, ~4-7 s at 15 million reviews). Reviews
arrive in rating order, so a month is a contiguous stretch of the table behind this index.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reviews_rated", "reviews", ["rated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reviews_rated", table_name="reviews")
