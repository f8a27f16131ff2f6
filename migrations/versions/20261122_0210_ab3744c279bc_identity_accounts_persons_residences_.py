"""identity: accounts, persons, residences, relations, memberships, devices, tokens, audit

Encrypted columns (persons.name/id_number/phone, accounts.wechat_session_key) are plain
TEXT here: auth.pii.EncryptedText encrypts in Python.

Revision ID: ab3744c279bc
Revises: 03fd06d3c367
Create Date: 2026-11-22 01:53:21.527792
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = 'ab3744c279bc'
down_revision = '03fd06d3c367'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('persons',
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('id_number', sa.Text(), nullable=True),
    sa.Column('id_number_hash', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('real_name_level', sa.String(length=16), nullable=False),
    sa.Column('verified_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('merged_into_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('anonymised_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("real_name_level IN ('none', 'basic', 'verified')", name=op.f('ck_persons_real_name_level_known')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['persons.id'], name=op.f('fk_persons_merged_into_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons')),
    sa.UniqueConstraint('id_number_hash', name=op.f('uq_persons_id_number_hash'))
    )
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_persons_phone_hash'), ['phone_hash'], unique=False)

    op.create_table('accounts',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('openid', sa.String(length=128), nullable=True),
    sa.Column('unionid', sa.String(length=128), nullable=True),
    sa.Column('subject', sa.String(length=128), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('wechat_session_key', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind <> 'staff' OR username IS NOT NULL OR status = 'deleted'", name=op.f('ck_accounts_staff_username')),
    sa.CheckConstraint("kind IN ('wechat', 'suishenban', 'staff', 'dev')", name=op.f('ck_accounts_kind_known')),
    sa.CheckConstraint("status IN ('active', 'disabled', 'deleted')", name=op.f('ck_accounts_status_known')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_accounts_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('kind', 'openid', name='uq_accounts_kind_openid'),
    sa.UniqueConstraint('subject', name=op.f('uq_accounts_subject')),
    sa.UniqueConstraint('username', name=op.f('uq_accounts_username'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_accounts_unionid'), ['unionid'], unique=False)

    op.create_table('devices',
    sa.Column('uid', sa.String(length=40), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_seen_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('sentinel', 'gate', 'scanner', 'locker', 'charger', 'sensor', 'kiosk', 'camera', 'meter')", name=op.f('ck_devices_kind_known')),
    sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f('ck_devices_status_known')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_devices_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('uid', name=op.f('uq_devices_uid'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('person_relations',
    sa.Column('from_person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('allows', sa.JSON(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("kind IN ('guardian', 'proxy', 'family')", name=op.f('ck_person_relations_kind_known')),
    sa.CheckConstraint('from_person_id <> to_person_id', name=op.f('ck_person_relations_not_self')),
    sa.ForeignKeyConstraint(['from_person_id'], ['persons.id'], name=op.f('fk_person_relations_from_person_id_persons')),
    sa.ForeignKeyConstraint(['to_person_id'], ['persons.id'], name=op.f('fk_person_relations_to_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_relations')),
    sa.UniqueConstraint('from_person_id', 'to_person_id', 'kind', name=op.f('uq_person_relations_from_person_id_to_person_id_kind'))
    )
    with op.batch_alter_table('person_relations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_relations_from_person_id'), ['from_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_relations_to_person_id'), ['to_person_id'], unique=False)

    op.create_table('audit_entries',
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('acting_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('subject_person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['acting_org_id'], ['organisations.id'], name=op.f('fk_audit_entries_acting_org_id_organisations')),
    sa.ForeignKeyConstraint(['actor_account_id'], ['accounts.id'], name=op.f('fk_audit_entries_actor_account_id_accounts')),
    sa.ForeignKeyConstraint(['subject_person_id'], ['persons.id'], name=op.f('fk_audit_entries_subject_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_actor_account_id'), ['actor_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_entries_subject_at', ['subject_person_id', 'at'], unique=False)

    op.create_table('memberships',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f('ck_memberships_status_known')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_memberships_account_id_accounts')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_memberships_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('account_id', 'organisation_id', name=op.f('uq_memberships_account_id_organisation_id'))
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('refresh_tokens',
    sa.Column('family_id', sa.String(length=36), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('issued_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rotated_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_refresh_tokens_account_id_accounts')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_refresh_tokens_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_tokens_token_hash'))
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_tokens_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_tokens_family_id'), ['family_id'], unique=False)

    op.create_table('residences',
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('building_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('room', sa.String(length=8), nullable=True),
    sa.Column('village_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('house_number', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reviewed_by_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reviewed_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reviewed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.String(length=300), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('claimed', 'verified', 'rejected', 'ended')", name=op.f('ck_residences_status_known')),
    sa.CheckConstraint('(community_id IS NOT NULL AND building_id IS NOT NULL AND room IS NOT NULL AND village_id IS NULL AND house_number IS NULL) OR (village_id IS NOT NULL AND house_number IS NOT NULL AND community_id IS NULL AND building_id IS NULL AND room IS NULL)', name=op.f('ck_residences_one_place')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_residences_dates_ordered')),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_residences_building_id_buildings')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_residences_community_id_communities')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_residences_person_id_persons')),
    sa.ForeignKeyConstraint(['reviewed_by_account_id'], ['accounts.id'], name=op.f('fk_residences_reviewed_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['reviewed_by_org_id'], ['organisations.id'], name=op.f('fk_residences_reviewed_by_org_id_organisations')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_residences_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_residences'))
    )
    with op.batch_alter_table('residences', schema=None) as batch_op:
        batch_op.create_index('ix_residences_community_status', ['community_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_residences_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_residences_village_status', ['village_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('residences', schema=None) as batch_op:
        batch_op.drop_index('ix_residences_village_status')
        batch_op.drop_index(batch_op.f('ix_residences_person_id'))
        batch_op.drop_index('ix_residences_community_status')

    op.drop_table('residences')
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_family_id'))
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_account_id'))

    op.drop_table('refresh_tokens')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_memberships_account_id'))

    op.drop_table('memberships')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_subject_at')
        batch_op.drop_index(batch_op.f('ix_audit_entries_at'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_actor_account_id'))

    op.drop_table('audit_entries')
    with op.batch_alter_table('person_relations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_relations_to_person_id'))
        batch_op.drop_index(batch_op.f('ix_person_relations_from_person_id'))

    op.drop_table('person_relations')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_organisation_id'))

    op.drop_table('devices')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_unionid'))
        batch_op.drop_index(batch_op.f('ix_accounts_person_id'))

    op.drop_table('accounts')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_phone_hash'))

    op.drop_table('persons')
