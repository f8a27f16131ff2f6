"""qr codes: signing keys, passes, used token ids, subjects, scans

Revision ID: 5e0a1b797e89
Revises: 4c1264e5c114
Create Date: 2026-11-22 01:56:11.528116
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '5e0a1b797e89'
down_revision = '4c1264e5c114'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('qr_passes',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('sub', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.Column('holder_type', sa.String(length=40), nullable=True),
    sa.Column('holder_id', sa.BigInteger(), nullable=True),
    sa.Column('single_use', sa.Boolean(), nullable=False),
    sa.Column('issued_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_from', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=200), nullable=True),
    sa.Column('used_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("purpose <> 'personal'", name=op.f('ck_qr_passes_purpose_not_personal')),
    sa.CheckConstraint('(holder_type IS NULL) = (holder_id IS NULL)', name=op.f('ck_qr_passes_holder_complete')),
    sa.CheckConstraint('valid_until > valid_from', name=op.f('ck_qr_passes_lifetime_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qr_passes')),
    sa.UniqueConstraint('jti', name=op.f('uq_qr_passes_jti'))
    )
    with op.batch_alter_table('qr_passes', schema=None) as batch_op:
        batch_op.create_index('ix_qr_passes_purpose_ref', ['purpose', 'ref'], unique=False)

    op.create_table('qr_scans',
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('token_kind', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=True),
    sa.Column('ref', sa.String(length=128), nullable=True),
    sa.Column('scanner_kind', sa.String(length=16), nullable=False),
    sa.Column('scanner_id', sa.BigInteger(), nullable=True),
    sa.Column('result', sa.String(length=40), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("scanner_kind IN ('device', 'staff', 'resident', 'service')", name=op.f('ck_qr_scans_scanner_kind_known')),
    sa.CheckConstraint("token_kind IN ('personal', 'pass', 'unknown')", name=op.f('ck_qr_scans_token_kind_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qr_scans'))
    )
    with op.batch_alter_table('qr_scans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qr_scans_at'), ['at'], unique=False)
        batch_op.create_index('ix_qr_scans_scanner', ['scanner_kind', 'scanner_id', 'at'], unique=False)

    op.create_table('qr_signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('alg', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('private_key_enc', sa.LargeBinary(length=128), nullable=True),
    sa.Column('kek_id', sa.String(length=16), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('active_from', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('publish_until', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("alg IN ('EdDSA')", name=op.f('ck_qr_signing_keys_alg_known')),
    sa.CheckConstraint('retired_at IS NULL OR retired_at >= active_from', name=op.f('ck_qr_signing_keys_retired_after_active')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qr_signing_keys')),
    sa.UniqueConstraint('kid', name=op.f('uq_qr_signing_keys_kid'))
    )
    op.create_table('qr_subjects',
    sa.Column('sub', sa.String(length=64), nullable=False),
    sa.Column('holder_type', sa.String(length=40), nullable=False),
    sa.Column('holder_id', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sub', name=op.f('pk_qr_subjects'))
    )
    with op.batch_alter_table('qr_subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qr_subjects_expires_at'), ['expires_at'], unique=False)

    op.create_table('qr_used_jti',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('used_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_qr_used_jti'))
    )
    with op.batch_alter_table('qr_used_jti', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qr_used_jti_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('qr_used_jti', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qr_used_jti_expires_at'))

    op.drop_table('qr_used_jti')
    with op.batch_alter_table('qr_subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qr_subjects_expires_at'))

    op.drop_table('qr_subjects')
    op.drop_table('qr_signing_keys')
    with op.batch_alter_table('qr_scans', schema=None) as batch_op:
        batch_op.drop_index('ix_qr_scans_scanner')
        batch_op.drop_index(batch_op.f('ix_qr_scans_at'))

    op.drop_table('qr_scans')
    with op.batch_alter_table('qr_passes', schema=None) as batch_op:
        batch_op.drop_index('ix_qr_passes_purpose_ref')

    op.drop_table('qr_passes')
