"""residents' data rights: exports and consents

Revision ID: 3c6ee49f2141
Revises: 948af69bd777
Create Date: 2026-12-04 19:49:07.149171
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '3c6ee49f2141'
down_revision = '948af69bd777'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consents',
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=20), nullable=False),
    sa.Column('given_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_consents_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_consents_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consents_person_id'), ['person_id'], unique=False)
        batch_op.create_index('uq_consents_active', ['person_id', 'purpose'], unique=True, postgresql_where=sa.text('withdrawn_at IS NULL'), sqlite_where=sa.text('withdrawn_at IS NULL'))

    op.create_table('data_exports',
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requested_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ready_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('file_path', sa.String(length=500), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("status IN ('building', 'ready')", name=op.f('ck_data_exports_status_known')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_data_exports_person_id_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_account_id'], ['accounts.id'], name=op.f('fk_data_exports_requested_by_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_exports')),
    sa.UniqueConstraint('person_id', 'day', name=op.f('uq_data_exports_person_id_day')),
    sa.UniqueConstraint('public_id', name=op.f('uq_data_exports_public_id'))
    )
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_exports_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_exports_requested_by_account_id'), ['requested_by_account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_exports_requested_by_account_id'))
        batch_op.drop_index(batch_op.f('ix_data_exports_requested_at'))

    op.drop_table('data_exports')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index('uq_consents_active', postgresql_where=sa.text('withdrawn_at IS NULL'), sqlite_where=sa.text('withdrawn_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_consents_person_id'))

    op.drop_table('consents')
