"""the data cut-off of each load and job run; 差评 whose call-back was due by the as-of time

- load_runs.extracted_at: the extract's cut-off, declared by the mapping (`extracted_at`) or
  `xiaoneng import --extracted-at`, else the latest event timestamp in the load. `compute`
  measures as of min(now, the latest cut-off) by default, so a log that stops on 10-31 is not
  measured as if nothing had happened since.
- job_runs.data_cutoff: the cut-off of the data a run read, stated by every page, export and
  bulletin beside the as-of time.
- review_facts.bad_callback_due: real-name 差评 whose call-back deadline fell by the as-of time
  (the denominator of 差评回访率, like bad_rect_due for 差评按期整改率).
- case_facts.completed_natural: completed cases whose limits are natural days, so that labels
  say 工作日 / 自然日 / 天 according to the cases in view.
- card_revocations: cards revoked by an upheld appeal (申诉成立), written by an appeal decision
  and applied by every recompute; card_facts.yellow_cards_net / red_cards_net count the cards
  not revoked, so gross and net counts both exist for case cards too.

Revision ID: 0009b
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009b"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("load_runs") as batch:
        batch.add_column(sa.Column(
            "extracted_at", sa.DateTime(), nullable=True,
            comment="the extract's data cut-off: declared (mapping, --extracted-at) or the "
                    "latest event time loaded (migration 0009b)"))
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column(
            "data_cutoff", sa.DateTime(), nullable=True,
            comment="cut-off of the data the run read (latest extracted_at of the loads; "
                    "migration 0009b)"))
    with op.batch_alter_table("review_facts") as batch:
        batch.add_column(sa.Column("bad_callback_due", sa.BigInteger(), server_default="0",
                                   nullable=False))
    with op.batch_alter_table("case_facts") as batch:
        batch.add_column(sa.Column("completed_natural", sa.BigInteger(), server_default="0",
                                   nullable=False))
    with op.batch_alter_table("card_facts") as batch:
        for name in ("yellow_cards_net", "red_cards_net"):
            batch.add_column(sa.Column(name, sa.BigInteger(), server_default="0",
                                       nullable=False))
    # existing rows: net = gross − revoked of that kind (only review cards could be revoked)
    op.execute("UPDATE card_facts SET yellow_cards_net = yellow_cards - revoked_cards, "
               "red_cards_net = red_cards")
    op.create_table(
        "card_revocations",
        sa.Column("card_id", sa.Text(), nullable=False,
                  comment="the revoked card (ids are stable: case or review and rule)"),
        sa.Column("decided_on", sa.Date(), nullable=False,
                  comment="the day the appeal was upheld"),
        sa.Column("reason", sa.Text(), nullable=False, comment="why the appeal was upheld"),
        sa.Column("decided_by", sa.Text(), nullable=False, comment="who decided (account)"),
        sa.Column("appeal_ref", sa.Text(), nullable=True,
                  comment="the appeal / 督办 record it came from"),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("card_id"),
        comment="cards revoked by an upheld appeal (申诉成立): gross and net card counts",
    )


def downgrade() -> None:
    op.drop_table("card_revocations")
    with op.batch_alter_table("card_facts") as batch:
        batch.drop_column("red_cards_net")
        batch.drop_column("yellow_cards_net")
    with op.batch_alter_table("case_facts") as batch:
        batch.drop_column("completed_natural")
    with op.batch_alter_table("review_facts") as batch:
        batch.drop_column("bad_callback_due")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("data_cutoff")
    with op.batch_alter_table("load_runs") as batch:
        batch.drop_column("extracted_at")
