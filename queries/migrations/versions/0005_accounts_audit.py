"""accounts (roles, unit scopes, login throttling) and the audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:00:00

Written with explicit create_table calls (matching queries/accounts_store.py and
queries/audit.py; tests/test_migrations.py compares the two).
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False, comment='leader / supervisor / analyst / unit / admin'),
    sa.Column('scope_regions', sa.JSON(), nullable=True, comment='unit users: region codes (whole subtrees)'),
    sa.Column('scope_agencies', sa.JSON(), nullable=True, comment='unit users: agency codes'),
    sa.Column('password_hash', sa.Text(), nullable=True, comment='argon2id; null for single-sign-on only'),
    sa.Column('email', sa.String(length=200), nullable=True, comment='identity for single sign-on'),
    sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username'),
    sa.UniqueConstraint('email'),
    comment='dashboard accounts with roles and unit scopes'
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False, comment='who (or the name tried)'),
    sa.Column('role', sa.String(length=16), nullable=True, comment='the role at the time'),
    sa.Column('action', sa.String(length=40), nullable=False, comment='login / login_failed / logout / export / settings / calendar / job_run / import / publish / account'),
    sa.Column('scope', sa.Text(), nullable=True, comment="the user's data scope (all / region:… / agency:…)"),
    sa.Column('detail', sa.JSON(), nullable=True, comment='what: before/after, row counts, file, filters'),
    sa.PrimaryKeyConstraint('id'),
    comment='audit log of logins, exports, changes, job runs and publications'
    )
    op.create_index('ix_audit_at', 'audit_log', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('accounts')
