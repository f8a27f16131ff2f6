"""timers, worker lease and periodic jobs

The generic timers table (unique per subject, kind and level; partial indexes on due_at
of pending and of failed timers, declared for both PostgreSQL and SQLite), the SQLite
worker lease and the periodic housekeeping jobs' last runs.

Revision ID: 51be1a5b3878
Revises: 6d90eaba9bd3
Create Date: 2026-11-22 01:52:48.747215
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '51be1a5b3878'
down_revision = '6d90eaba9bd3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('periodic_jobs',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('last_run_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_periodic_jobs'))
    )
    op.create_table('timers',
    sa.Column('subject_type', sa.String(length=60), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=80), nullable=False),
    sa.Column('level', sa.Integer(), server_default='0', nullable=False),
    sa.Column('due_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('payload', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('fired_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("state IN ('pending', 'fired', 'cancelled', 'failed')", name=op.f('ck_timers_state_known')),
    sa.CheckConstraint('attempts >= 0 AND level >= 0', name=op.f('ck_timers_counts_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timers')),
    sa.UniqueConstraint('subject_type', 'subject_id', 'kind', 'level', name=op.f('uq_timers_subject_type_subject_id_kind_level'))
    )
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.create_index('ix_timers_due_pending', ['due_at'], unique=False, postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
        batch_op.create_index('ix_timers_failed', ['due_at'], unique=False, postgresql_where=sa.text("state = 'failed'"), sqlite_where=sa.text("state = 'failed'"))

    op.create_table('worker_leases',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_leases'))
    )


def downgrade() -> None:
    op.drop_table('worker_leases')
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_index('ix_timers_failed', postgresql_where=sa.text("state = 'failed'"), sqlite_where=sa.text("state = 'failed'"))
        batch_op.drop_index('ix_timers_due_pending', postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))

    op.drop_table('timers')
    op.drop_table('periodic_jobs')
