"""duplicate hints read in index order: id ends the building index

The duplicate hint of a new ticket orders by (created_at, id) within a building and
category; with id in the index no plan sorts the building's tickets (a fresh table's stale
statistics made PostgreSQL sort thousands of rows for five).

Revision ID: 0b4002c9fc6a
Revises: 77e0ae4f6790
Create Date: 2026-11-22 04:28:06.496381
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0b4002c9fc6a'
down_revision = '77e0ae4f6790'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wf_tickets_building_category'))
        batch_op.create_index('ix_wf_tickets_building_category', ['building_id', 'category', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_wf_tickets_building_category')
        batch_op.create_index(batch_op.f('ix_wf_tickets_building_category'), ['building_id', 'category', 'created_at'], unique=False)

