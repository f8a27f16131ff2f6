"""storage: a daily upload quota per account

- ``upload_quota_days``: how many uploads an account made on a Beijing day (one row per
  account and day, incremented under the quota by a conditional upsert; past days purged).

Revision ID: 8db58b2bb5a4
Revises: b523994ada32
Create Date: 2026-12-04 18:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '8db58b2bb5a4'
down_revision = 'b523994ada32'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'upload_quota_days',
        sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_upload_quota_days_account_id_accounts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('account_id', 'day', name=op.f('pk_upload_quota_days')),
    )
    with op.batch_alter_table('upload_quota_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_quota_days_day'), ['day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('upload_quota_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_quota_days_day'))
    op.drop_table('upload_quota_days')
