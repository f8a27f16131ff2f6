"""hotline-12345: the caller of each work order (phone as sa.Text: auth.pii.EncryptedText
encrypts in Python), and the resident account whose phone it is.

Revision ID: 948af69bd777
Revises: 0c2d699e25e6
Create Date: 2026-12-04 19:42:23.015052
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '948af69bd777'
down_revision = '0c2d699e25e6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hl_callers',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('phone', sa.Text(), nullable=False),
    sa.Column('resident_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['resident_account_id'], ['accounts.id'], name=op.f('fk_hl_callers_resident_account_id_accounts')),
    sa.ForeignKeyConstraint(['ticket_id'], ['wf_tickets.id'], name=op.f('fk_hl_callers_ticket_id_wf_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_hl_callers'))
    )
    with op.batch_alter_table('hl_callers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hl_callers_resident_account_id'), ['resident_account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('hl_callers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hl_callers_resident_account_id'))

    op.drop_table('hl_callers')
