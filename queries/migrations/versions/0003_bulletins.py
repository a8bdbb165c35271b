"""published bulletin versions and their files

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:00:00

Written with explicit create_table calls (matching queries/bulletin_store.py; a test compares
the two) so that it does not depend on which modules have added tables to the metadata.
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bulletin_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('month', sa.Date(), nullable=False, comment="first day of the bulletin's month"),
    sa.Column('scope_key', sa.String(length=200), nullable=False, comment='city:<code> / county:<code> / sector:<code>:<sector>'),
    sa.Column('version', sa.Integer(), nullable=False, comment='1, 2, … per month and scope'),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False, comment="sha256 of the bulletin's canonical JSON"),
    sa.Column('as_of', sa.DateTime(), nullable=True, comment='data as-of time of the facts used'),
    sa.Column('bulletin', sa.Text(), nullable=False, comment='frozen bulletin, canonical JSON'),
    sa.Column('settings', sa.JSON(), nullable=False, comment='settings and ranking rules used'),
    sa.Column('diff', sa.JSON(), nullable=True, comment='changes from the previous version (null for v1)'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('month', 'scope_key', 'version', name='uq_bulletin_version'),
    comment='published monthly bulletins (月度通报), one row per version'
    )
    op.create_table('bulletin_files',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False, comment='docx / xlsx / pdf / facts'),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['bulletin_versions.id'], ),
    sa.PrimaryKeyConstraint('version_id', 'format'),
    comment='the files of a published bulletin version, byte for byte'
    )


def downgrade() -> None:
    op.drop_table('bulletin_files')
    op.drop_table('bulletin_versions')
