"""the holiday calendar becomes the platform's: wf_calendar_days → calendar_days

Booking (doctors' schedules) and approval (review deadlines) count working days too, and
engines may not import each other, so the calendar moves from the workflow engine to
``app.calendar``. A new table with the platform's name (and its constraints' names), the rows
copied, the old table dropped.

Revision ID: c4a1d2e3f5b6
Revises: 0b4002c9fc6a
Create Date: 2026-12-04 15:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'c4a1d2e3f5b6'
down_revision = '0b4002c9fc6a'
branch_labels = None
depends_on = None


def _create(name: str) -> None:
    op.create_table(name,
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f(f'ck_{name}_kind_known')),
    sa.PrimaryKeyConstraint('day', name=op.f(f'pk_{name}'))
    )


def upgrade() -> None:
    _create('calendar_days')
    op.execute("INSERT INTO calendar_days (day, kind, name) SELECT day, kind, name FROM wf_calendar_days")
    op.drop_table('wf_calendar_days')


def downgrade() -> None:
    _create('wf_calendar_days')
    op.execute("INSERT INTO wf_calendar_days (day, kind, name) SELECT day, kind, name FROM calendar_days")
    op.drop_table('calendar_days')
