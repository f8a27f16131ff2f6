"""ledger: the fee of each refund's line in the trade bill

Revision ID: b7e1c2d4f5a6
Revises: 42e582524fdf
Create Date: 2026-12-05 00:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b7e1c2d4f5a6'
down_revision = '42e582524fdf'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lg_refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_fen', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('lg_refunds', schema=None) as batch_op:
        batch_op.drop_column('fee_fen')
