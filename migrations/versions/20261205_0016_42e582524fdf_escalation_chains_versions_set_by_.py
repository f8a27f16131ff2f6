"""escalation chains: versions set by district administrators

``escalation_chains`` holds each version after the declared one (version 0, in code): the steps,
who set it, for which organisation, when, why. Tickets and SOS alarms record the version they
started under (existing ones: 0, the declared chain they have been escalating by).

Revision ID: 42e582524fdf
Revises: 7d1e5a0c9b21
Create Date: 2026-12-05 00:16:41.079435
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '42e582524fdf'
down_revision = '7d1e5a0c9b21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('escalation_chains',
    sa.Column('chain', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('acting_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint('version >= 1', name=op.f('ck_escalation_chains_version_positive')),
    sa.ForeignKeyConstraint(['acting_org_id'], ['organisations.id'], name=op.f('fk_escalation_chains_acting_org_id_organisations')),
    sa.ForeignKeyConstraint(['created_by_account_id'], ['accounts.id'], name=op.f('fk_escalation_chains_created_by_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_chains')),
    sa.UniqueConstraint('chain', 'version', name='uq_escalation_chains_chain_version')
    )
    with op.batch_alter_table('sos_alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_version', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation_version', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.drop_column('escalation_version')

    with op.batch_alter_table('sos_alarms', schema=None) as batch_op:
        batch_op.drop_column('chain_version')

    op.drop_table('escalation_chains')
