"""storage: uploads (photos), owner_account_id gets its FK to accounts at merge

Revision ID: 4c1264e5c114
Revises: 51be1a5b3878
Create Date: 2026-11-22 01:55:52.138214
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '4c1264e5c114'
down_revision = '51be1a5b3878'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('uploads',
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('owner_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('thumb_sha256', sa.String(length=64), nullable=False),
    sa.Column('thumb_content_type', sa.String(length=32), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("content_type IN ('image/jpeg', 'image/png', 'image/webp')", name=op.f('ck_uploads_content_type_known')),
    sa.CheckConstraint("thumb_content_type IN ('image/jpeg', 'image/png', 'image/webp')", name=op.f('ck_uploads_thumb_content_type_known')),
    sa.CheckConstraint('width > 0 AND height > 0 AND bytes > 0', name=op.f('ck_uploads_sizes_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads')),
    sa.UniqueConstraint('public_id', name=op.f('uq_uploads_public_id'))
    )
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uploads_owner_account_id'), ['owner_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_uploads_sha256'), ['sha256'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uploads_sha256'))
        batch_op.drop_index(batch_op.f('ix_uploads_owner_account_id'))

    op.drop_table('uploads')
