"""staff known addresses; sign-in throttling leaves the account row

Failed sign-ins are now counted in the rate-limit storage by user name and address
(auth.signin_throttle), so ``accounts.failed_logins`` and ``locked_until`` go; the addresses
a staff account signed in from (keyed hashes) are kept in ``staff_known_addresses``.

Revision ID: b523994ada32
Revises: 076f8b5afb68
Create Date: 2026-12-04 18:24:38.603502
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = 'b523994ada32'
down_revision = '076f8b5afb68'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_known_addresses',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address_hash', sa.String(length=32), nullable=False),
    sa.Column('last_success_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_staff_known_addresses_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_known_addresses')),
    sa.UniqueConstraint('account_id', 'address_hash', name=op.f('uq_staff_known_addresses_account_id_address_hash'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('locked_until')

def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))

    op.drop_table('staff_known_addresses')
