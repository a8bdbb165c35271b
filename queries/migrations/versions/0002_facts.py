"""fact tables, cards, warnings, be scores, job runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:12:26.056462
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('be_scores',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('region_code', sa.Text(), nullable=False),
    sa.Column('indicator', sa.String(length=48), nullable=False, comment='sub-indicator id or be_index'),
    sa.Column('pillar', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('n', sa.BigInteger(), nullable=True, comment='bundles / chains / cases behind the value'),
    sa.Column('score', sa.Float(), nullable=True, comment='distance-to-frontier score 0–100'),
    sa.Column('weight', sa.Float(), nullable=True),
    sa.Column('contribution', sa.Float(), nullable=True, comment='weight × score / Σ weights'),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('change', sa.Float(), nullable=True, comment='score change from the previous month'),
    sa.PrimaryKeyConstraint('month', 'region_code', 'indicator'),
    comment='营商环境 sub-indicators and index per region and month'
    )
    op.create_table('card_facts',
    sa.Column('month', sa.Date(), nullable=False, comment='first day of the month'),
    sa.Column('agency_code', sa.Text(), nullable=False),
    sa.Column('item_code', sa.Text(), nullable=False, comment="'' when not tied to an item"),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('yellow_cards', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('red_cards', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('revoked_cards', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('month', 'agency_code', 'item_code', 'channel'),
    comment="cards by month of issue; review cards have item '' and channel 'review'"
    )
    op.create_table('cards',
    sa.Column('card_id', sa.Text(), nullable=False, comment='kind:subject id'),
    sa.Column('kind', sa.String(length=8), nullable=False, comment='yellow / red'),
    sa.Column('subject', sa.String(length=8), nullable=False, comment='case / review'),
    sa.Column('case_id', sa.Text(), nullable=True),
    sa.Column('review_id', sa.Text(), nullable=True),
    sa.Column('agency_code', sa.Text(), nullable=False),
    sa.Column('item_code', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False, comment='month of issue'),
    sa.Column('rule', sa.Text(), nullable=False, comment='the rule that fired'),
    sa.Column('days_over', sa.Integer(), nullable=False),
    sa.Column('still_open', sa.Boolean(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('card_id'),
    comment='红黄牌 records (metrics.md §6)'
    )
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index('ix_cards_agency_month', ['agency_code', 'month'], unique=False)

    op.create_table('case_facts',
    sa.Column('month', sa.Date(), nullable=False, comment='first day of the month'),
    sa.Column('agency_code', sa.Text(), nullable=False),
    sa.Column('item_code', sa.Text(), nullable=False, comment="'' when not tied to an item"),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('accepted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cmp_statutory', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cmp_gap', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('online_accepted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('full_online_accepted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('mobile_accepted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('visits_known', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('no_visit', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('max_one_visit', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('instant_accepted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cross_region_accepted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bundles_started', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('spd_statutory', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('spd_statutory_gap', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('spd_promised', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('spd_promised_gap', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed_with_deadline', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed_on_time', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed_no_deadline', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed_same_day', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('used_wd_sum', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed_overdue', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('e_result_known', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('e_result_yes', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed_reviewed', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('case_report_known', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('case_report_timely', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('in_progress_eom', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('overdue_open_eom', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('warnings_eom', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('month', 'agency_code', 'item_code', 'channel'),
    comment='additive case measures at month × agency × item × channel'
    )
    op.create_table('catalogue_facts',
    sa.Column('month', sa.Date(), nullable=False, comment='snapshot month'),
    sa.Column('item_code', sa.Text(), nullable=False),
    sa.Column('sector', sa.Text(), nullable=False),
    sa.Column('item_type', sa.String(length=32), nullable=False),
    sa.Column('items', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('online_capable_items', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('full_online_items', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('zero_visit_items', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('materials_sum', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('materials_known', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('steps_sum', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('steps_known', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cat_statutory', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cat_gap', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('month', 'item_code'),
    comment='事项目录 snapshot measures (减材料、减环节 trend across snapshots)'
    )
    op.create_table('job_runs',
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.Column('months', sa.Text(), nullable=False, comment='first..last month recomputed'),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('input_rows', sa.JSON(), nullable=True),
    sa.Column('output_rows', sa.JSON(), nullable=True),
    sa.Column('calendar_version', sa.Text(), nullable=True),
    sa.Column('fallback_years', sa.Text(), nullable=True),
    sa.Column('settings_hash', sa.String(length=64), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('run_id'),
    comment='one row per metric job run (provenance of every number)'
    )
    op.create_table('review_facts',
    sa.Column('month', sa.Date(), nullable=False, comment='first day of the month'),
    sa.Column('agency_code', sa.Text(), nullable=False),
    sa.Column('item_code', sa.Text(), nullable=False, comment="'' when not tied to an item"),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('reviews_valid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reviews_void', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('good', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('neutral', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bad', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('score_sum', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('active', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bad_real_name', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bad_callback_timely', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bad_rect_due', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bad_rect_timely', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bad_open', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('review_report_known', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('review_report_timely', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('month', 'agency_code', 'item_code', 'channel'),
    comment="additive 好差评 measures; channel is the rating channel, item '' for reviews not tied to a case"
    )
    op.create_table('used_days_hist',
    sa.Column('month', sa.Date(), nullable=False, comment='first day of the month'),
    sa.Column('agency_code', sa.Text(), nullable=False),
    sa.Column('item_code', sa.Text(), nullable=False, comment="'' when not tied to an item"),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('used_wd', sa.Integer(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'agency_code', 'item_code', 'channel', 'used_wd'),
    comment='histogram of used working days of completed cases (exact medians at any roll-up)'
    )
    op.create_table('warnings',
    sa.Column('case_id', sa.Text(), nullable=False),
    sa.Column('agency_code', sa.Text(), nullable=False),
    sa.Column('item_code', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('accepted_on', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('used_wd', sa.Integer(), nullable=False),
    sa.Column('deadline_days', sa.Integer(), nullable=False),
    sa.Column('remaining_wd', sa.Integer(), nullable=False),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('case_id'),
    comment='预警: the live list of in-progress cases near their deadline, as of the last run'
    )


def downgrade() -> None:
    op.drop_table('warnings')
    op.drop_table('used_days_hist')
    op.drop_table('review_facts')
    op.drop_table('job_runs')
    op.drop_table('catalogue_facts')
    op.drop_table('case_facts')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index('ix_cards_agency_month')

    op.drop_table('cards')
    op.drop_table('card_facts')
    op.drop_table('be_scores')
