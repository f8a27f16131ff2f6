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

# On SQLite a batch alteration copies ``accounts`` into a new table, which loses its triggers:
# the authentication caches' change counter (migration d5e6f7a8b9c0) is put back after it.
SQLITE_ACCOUNT_TRIGGERS = (("auth_changes_accounts_update", "UPDATE OF status, kind, person_id"),
                           ("auth_changes_accounts_delete", "DELETE"))


def _restore_sqlite_triggers() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, event in SQLITE_ACCOUNT_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON accounts "
                   "BEGIN UPDATE auth_changes SET counter = counter + 1 WHERE id = 1; END")


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
    _restore_sqlite_triggers()


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
    _restore_sqlite_triggers()

    op.drop_table('staff_known_addresses')
