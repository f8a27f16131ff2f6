"""booking: priced resources and the booking's payment; ledger: intents by subject, fees, refund_abnormal

Revision ID: 86281cc2604f
Revises: ca1eda882e89
Create Date: 2026-12-04 21:28:46.513627
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '86281cc2604f'
down_revision = 'ca1eda882e89'
branch_labels = None
depends_on = None

KINDS = "kind IN ('unknown_order', 'amount_differs', 'missing_here', 'missing_there'{})"
NEW_KIND = ", 'refund_abnormal'"


def upgrade() -> None:
    with op.batch_alter_table('bk_bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_id', app.db.BigId, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_bk_bookings_payment_id_lg_payment_intents'), 'lg_payment_intents',
                                    ['payment_id'], ['id'])

    with op.batch_alter_table('bk_resources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_fen', sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_bk_resources_price_positive'), "price_fen IS NULL OR price_fen > 0")

    with op.batch_alter_table('lg_payment_intents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_fen', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_lg_payment_intents_subject', ['subject'], unique=False)

    with op.batch_alter_table('lg_discrepancies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_lg_discrepancies_kind_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_lg_discrepancies_kind_known'), KINDS.format(NEW_KIND))


def downgrade() -> None:
    with op.batch_alter_table('lg_discrepancies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_lg_discrepancies_kind_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_lg_discrepancies_kind_known'), KINDS.format(""))

    with op.batch_alter_table('lg_payment_intents', schema=None) as batch_op:
        batch_op.drop_index('ix_lg_payment_intents_subject')
        batch_op.drop_column('fee_fen')

    with op.batch_alter_table('bk_resources', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_bk_resources_price_positive'), type_='check')
        batch_op.drop_column('price_fen')

    with op.batch_alter_table('bk_bookings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bk_bookings_payment_id_lg_payment_intents'), type_='foreignkey')
        batch_op.drop_column('payment_id')
