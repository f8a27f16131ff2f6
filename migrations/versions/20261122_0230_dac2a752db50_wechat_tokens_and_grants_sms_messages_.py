"""wechat tokens and grants, sms messages, moderation items

sms_messages.to is TEXT here: auth.pii.EncryptedText encrypts in Python.

Revision ID: dac2a752db50
Revises: eb72817d71e0
Create Date: 2026-11-22 02:14:11.352997
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = 'dac2a752db50'
down_revision = 'eb72817d71e0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wechat_access_tokens',
    sa.Column('appid', sa.String(length=64), nullable=False),
    sa.Column('access_token', sa.String(length=1024), nullable=True),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refreshed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('force_day', sa.String(length=10), nullable=True),
    sa.Column('force_count', sa.Integer(), nullable=False),
    sa.Column('last_force_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('force_count >= 0', name=op.f('ck_wechat_access_tokens_force_count_not_negative')),
    sa.PrimaryKeyConstraint('appid', name=op.f('pk_wechat_access_tokens'))
    )
    op.create_table('sms_messages',
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('outbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('to', sa.Text(), nullable=False),
    sa.Column('to_masked', sa.String(length=20), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('provider_ref', sa.String(length=100), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['notify_outbox.id'], name=op.f('fk_sms_messages_outbox_id_notify_outbox'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages'))
    )
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index('ix_sms_messages_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_outbox_id'), ['outbox_id'], unique=False)

    op.create_table('moderation_items',
    sa.Column('subject_type', sa.String(length=60), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('author_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('suggest', sa.String(length=8), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('trace_id', sa.String(length=128), nullable=True),
    sa.Column('decided_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'text' AND text IS NOT NULL) OR (kind = 'media' AND upload_id IS NOT NULL)", name=op.f('ck_moderation_items_content_present')),
    sa.CheckConstraint("kind IN ('text', 'media')", name=op.f('ck_moderation_items_kind_known')),
    sa.CheckConstraint("state IN ('pending_review', 'cleared', 'rejected')", name=op.f('ck_moderation_items_state_known')),
    sa.ForeignKeyConstraint(['author_account_id'], ['accounts.id'], name=op.f('fk_moderation_items_author_account_id_accounts')),
    sa.ForeignKeyConstraint(['decided_by'], ['accounts.id'], name=op.f('fk_moderation_items_decided_by_accounts')),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_moderation_items_upload_id_uploads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_items'))
    )
    with op.batch_alter_table('moderation_items', schema=None) as batch_op:
        batch_op.create_index('ix_moderation_items_pending', ['created_at'], unique=False, postgresql_where=sa.text("state = 'pending_review'"), sqlite_where=sa.text("state = 'pending_review'"))
        batch_op.create_index('ix_moderation_items_subject', ['subject_type', 'subject_id'], unique=False)
        batch_op.create_index('ix_moderation_items_trace_id', ['trace_id'], unique=True, postgresql_where=sa.text('trace_id IS NOT NULL'), sqlite_where=sa.text('trace_id IS NOT NULL'))

    op.create_table('subscription_grants',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('granted_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_subscription_grants_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbox_id'], ['notify_outbox.id'], name=op.f('fk_subscription_grants_outbox_id_notify_outbox'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_grants'))
    )
    with op.batch_alter_table('subscription_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_grants_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_subscription_grants_open', ['account_id', 'template_id'], unique=False, postgresql_where=sa.text('consumed_at IS NULL'), sqlite_where=sa.text('consumed_at IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('subscription_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_subscription_grants_open', postgresql_where=sa.text('consumed_at IS NULL'), sqlite_where=sa.text('consumed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_subscription_grants_account_id'))

    op.drop_table('subscription_grants')
    with op.batch_alter_table('moderation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_items_trace_id', postgresql_where=sa.text('trace_id IS NOT NULL'), sqlite_where=sa.text('trace_id IS NOT NULL'))
        batch_op.drop_index('ix_moderation_items_subject')
        batch_op.drop_index('ix_moderation_items_pending', postgresql_where=sa.text("state = 'pending_review'"), sqlite_where=sa.text("state = 'pending_review'"))

    op.drop_table('moderation_items')
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_messages_outbox_id'))
        batch_op.drop_index('ix_sms_messages_created_at')

    op.drop_table('sms_messages')
    op.drop_table('wechat_access_tokens')
