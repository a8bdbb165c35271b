"""initial schema: contract tables, loads, quarantine, settings

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 02:07:32.378797
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agencies',
    sa.Column('agency_code', sa.Text(), nullable=False, comment='实施机关编码'),
    sa.Column('name', sa.Text(), nullable=False, comment='实施机关'),
    sa.Column('region_code', sa.Text(), nullable=False, comment='行政区划代码'),
    sa.Column('sector', sa.Text(), nullable=False, comment='条线'),
    sa.PrimaryKeyConstraint('agency_code'),
    comment='实施机关'
    )
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.create_index('ix_agencies_region', ['region_code'], unique=False)

    op.create_table('cases',
    sa.Column('case_id', sa.Text(), nullable=False, comment='办件编号'),
    sa.Column('item_code', sa.Text(), nullable=False, comment='事项编码'),
    sa.Column('agency_code', sa.Text(), nullable=False, comment='实施机关编码'),
    sa.Column('channel', sa.String(length=32), nullable=False, comment='申报渠道'),
    sa.Column('applicant_type', sa.String(length=32), nullable=False, comment='申请人类型'),
    sa.Column('applicant_key', sa.Text(), nullable=True, comment='申请人标识'),
    sa.Column('bundle_id', sa.Text(), nullable=True, comment='一件事编号'),
    sa.Column('project_code', sa.Text(), nullable=True, comment='项目代码'),
    sa.Column('submitted_at', sa.DateTime(), nullable=False, comment='申请时间'),
    sa.Column('accepted_at', sa.DateTime(), nullable=True, comment='受理时间'),
    sa.Column('completed_at', sa.DateTime(), nullable=True, comment='办结时间'),
    sa.Column('status', sa.String(length=32), nullable=False, comment='办件状态'),
    sa.Column('decision', sa.String(length=32), nullable=True, comment='办理结果'),
    sa.Column('statutory_days', sa.Integer(), nullable=True, comment='法定时限'),
    sa.Column('promised_days', sa.Integer(), nullable=True, comment='承诺时限'),
    sa.Column('due_at', sa.DateTime(), nullable=True, comment='承诺办结日期'),
    sa.Column('limit_unit', sa.String(length=32), nullable=False, comment='时限单位'),
    sa.Column('visits', sa.Integer(), nullable=True, comment='到现场次数'),
    sa.Column('full_online', sa.Boolean(), nullable=False, comment='全程网办'),
    sa.Column('cross_region', sa.Boolean(), nullable=False, comment='跨域通办'),
    sa.Column('e_result', sa.Boolean(), nullable=True, comment='结果电子化'),
    sa.Column('reported_at', sa.DateTime(), nullable=True, comment='汇聚时间'),
    sa.PrimaryKeyConstraint('case_id'),
    comment='办件'
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_agency_accepted', ['agency_code', 'accepted_at'], unique=False)
        batch_op.create_index('ix_cases_agency_completed', ['agency_code', 'completed_at'], unique=False)
        batch_op.create_index('ix_cases_item_accepted', ['item_code', 'accepted_at'], unique=False)
        batch_op.create_index('ix_cases_status_due', ['status', 'due_at'], unique=False)

    op.create_table('items',
    sa.Column('item_code', sa.Text(), nullable=False, comment='事项编码'),
    sa.Column('name', sa.Text(), nullable=False, comment='事项名称'),
    sa.Column('item_type', sa.String(length=32), nullable=False, comment='事项类型'),
    sa.Column('sector', sa.Text(), nullable=False, comment='条线'),
    sa.Column('statutory_days', sa.Integer(), nullable=True, comment='法定时限'),
    sa.Column('promised_days', sa.Integer(), nullable=True, comment='承诺时限'),
    sa.Column('limit_unit', sa.String(length=32), nullable=False, comment='时限单位'),
    sa.Column('online_depth', sa.Integer(), nullable=False, comment='网办深度'),
    sa.Column('max_visits', sa.Integer(), nullable=True, comment='到现场次数'),
    sa.Column('be_indicator', sa.String(length=32), nullable=True, comment='营商环境指标'),
    sa.Column('materials', sa.Integer(), nullable=True, comment='申请材料数'),
    sa.Column('steps', sa.Integer(), nullable=True, comment='办理环节数'),
    sa.PrimaryKeyConstraint('item_code'),
    comment='政务服务事项目录'
    )
    op.create_table('load_runs',
    sa.Column('load_id', sa.String(length=36), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False, comment='files or URL that were loaded'),
    sa.Column('status', sa.String(length=16), nullable=False, comment='running / ok / failed'),
    sa.Column('report', sa.JSON(), nullable=True, comment='per-table read / loaded / quarantined counts'),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('load_id'),
    comment='one row per import run'
    )
    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('load_id', sa.String(length=36), nullable=False),
    sa.Column('table_name', sa.String(length=32), nullable=False),
    sa.Column('source_file', sa.Text(), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=True, comment='1-based line in the file (header = 1)'),
    sa.Column('row_key', sa.Text(), nullable=True, comment="the row's key value(s), when readable"),
    sa.Column('rules', sa.Text(), nullable=False, comment="';'-separated rule ids it broke"),
    sa.Column('reasons', sa.Text(), nullable=False, comment='human-readable messages'),
    sa.Column('raw', sa.JSON(), nullable=False, comment='the original row as read'),
    sa.Column('quarantined_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    comment='rows set aside by the importer with every rule they broke'
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index('ix_quarantine_load', ['load_id', 'table_name'], unique=False)

    op.create_table('regions',
    sa.Column('region_code', sa.Text(), nullable=False, comment='行政区划代码'),
    sa.Column('name', sa.Text(), nullable=False, comment='区划名称'),
    sa.Column('parent_code', sa.Text(), nullable=True, comment='上级区划代码'),
    sa.Column('level', sa.String(length=32), nullable=False, comment='层级'),
    sa.PrimaryKeyConstraint('region_code'),
    comment='行政区划'
    )
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.create_index('ix_regions_parent', ['parent_code'], unique=False)

    op.create_table('reviews',
    sa.Column('review_id', sa.Text(), nullable=False, comment='评价编号'),
    sa.Column('case_id', sa.Text(), nullable=True, comment='办件编号'),
    sa.Column('agency_code', sa.Text(), nullable=False, comment='实施机关编码'),
    sa.Column('channel', sa.String(length=32), nullable=False, comment='评价渠道'),
    sa.Column('rated_at', sa.DateTime(), nullable=False, comment='评价时间'),
    sa.Column('level', sa.Integer(), nullable=False, comment='评价等级'),
    sa.Column('active', sa.Boolean(), nullable=False, comment='主动评价'),
    sa.Column('real_name', sa.Boolean(), nullable=False, comment='实名评价'),
    sa.Column('tags', sa.Text(), nullable=True, comment='差评标签'),
    sa.Column('callback_at', sa.DateTime(), nullable=True, comment='回访时间'),
    sa.Column('rectified_at', sa.DateTime(), nullable=True, comment='整改时间'),
    sa.Column('appeal_upheld', sa.Boolean(), nullable=False, comment='申诉成立'),
    sa.Column('reported_at', sa.DateTime(), nullable=True, comment='汇聚时间'),
    sa.PrimaryKeyConstraint('review_id'),
    comment='好差评'
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index('ix_reviews_agency_rated', ['agency_code', 'rated_at'], unique=False)
        batch_op.create_index('ix_reviews_case', ['case_id'], unique=False)

    op.create_table('settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('key'),
    comment='deployment settings that override the defaults of metrics.md'
    )
    op.create_table('suspensions',
    sa.Column('case_id', sa.Text(), nullable=False, comment='办件编号'),
    sa.Column('started_at', sa.DateTime(), nullable=False, comment='挂起开始时间'),
    sa.Column('ended_at', sa.DateTime(), nullable=True, comment='挂起结束时间'),
    sa.Column('reason', sa.String(length=32), nullable=False, comment='挂起原因'),
    sa.Column('approved_days', sa.Integer(), nullable=True, comment='批准天数'),
    sa.PrimaryKeyConstraint('case_id', 'started_at'),
    comment='挂起'
    )
    op.create_table('work_calendar',
    sa.Column('date', sa.Date(), nullable=False, comment='日期'),
    sa.Column('is_workday', sa.Boolean(), nullable=False, comment='是否工作日'),
    sa.Column('name', sa.Text(), nullable=True, comment='名称'),
    sa.Column('source', sa.Text(), nullable=False, comment='来源'),
    sa.PrimaryKeyConstraint('date'),
    comment='工作日历'
    )


def downgrade() -> None:
    op.drop_table('work_calendar')
    op.drop_table('suspensions')
    op.drop_table('settings')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_case')
        batch_op.drop_index('ix_reviews_agency_rated')

    op.drop_table('reviews')
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_index('ix_regions_parent')

    op.drop_table('regions')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index('ix_quarantine_load')

    op.drop_table('quarantine')
    op.drop_table('load_runs')
    op.drop_table('items')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_due')
        batch_op.drop_index('ix_cases_item_accepted')
        batch_op.drop_index('ix_cases_agency_completed')
        batch_op.drop_index('ix_cases_agency_accepted')

    op.drop_table('cases')
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.drop_index('ix_agencies_region')

    op.drop_table('agencies')
