"""workflow: internal notes, appointments, the queue by priority

- ``wf_ticket_events.internal``: a staff note for staff only (never shown or told to the
  reporter); existing events are public (false).
- ``wf_tickets.appointment_at``: when staff will call at the reporter's.
- ``ix_wf_tickets_priority_queue``: an organisation's open tickets of one priority, in
  deadline order (the queue's ``priority`` filter).

Revision ID: 076f8b5afb68
Revises: a436e86e7b8b
Create Date: 2026-12-04 17:00:30.755189
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '076f8b5afb68'
down_revision = 'a436e86e7b8b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('wf_ticket_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('internal', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appointment_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_wf_tickets_priority_queue',
                              ['org_id', 'scenario', 'is_open', 'priority', 'due_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_wf_tickets_priority_queue')
        batch_op.drop_column('appointment_at')

    with op.batch_alter_table('wf_ticket_events', schema=None) as batch_op:
        batch_op.drop_column('internal')
