"""workflow engine: tickets, their events and photos, SLA policies, calendar days (调休)

Tables of scenarios/engines/workflow/models.py, shared by every ticket scenario. Two
partial unique indexes keep one active SLA policy per (scenario, category) and one active
default per scenario.

Revision ID: 70d243b779bd
Revises: dac2a752db50
Create Date: 2026-11-22 02:12:36.562531
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '70d243b779bd'
down_revision = 'dac2a752db50'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wf_calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f('ck_wf_calendar_days_kind_known')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_wf_calendar_days'))
    )
    op.create_table('wf_sla_policies',
    sa.Column('scenario', sa.String(length=60), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('response_minutes', sa.Integer(), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=True),
    sa.Column('calendar', sa.String(length=16), nullable=False),
    sa.Column('work_start_minute', sa.Integer(), nullable=False),
    sa.Column('work_end_minute', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("calendar IN ('24x7', 'business')", name=op.f('ck_wf_sla_policies_calendar_known')),
    sa.CheckConstraint('resolution_minutes IS NULL OR resolution_minutes > 0', name=op.f('ck_wf_sla_policies_resolution_positive')),
    sa.CheckConstraint('response_minutes > 0', name=op.f('ck_wf_sla_policies_response_positive')),
    sa.CheckConstraint('work_start_minute >= 0 AND work_end_minute <= 1440 AND work_start_minute < work_end_minute', name=op.f('ck_wf_sla_policies_work_hours_ordered')),
    sa.ForeignKeyConstraint(['created_by_account_id'], ['accounts.id'], name=op.f('fk_wf_sla_policies_created_by_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wf_sla_policies'))
    )
    with op.batch_alter_table('wf_sla_policies', schema=None) as batch_op:
        batch_op.create_index('uq_wf_sla_policies_active_category', ['scenario', 'category'], unique=True, postgresql_where=sa.text('active AND category IS NOT NULL'), sqlite_where=sa.text('active AND category IS NOT NULL'))
        batch_op.create_index('uq_wf_sla_policies_active_default', ['scenario'], unique=True, postgresql_where=sa.text('active AND category IS NULL'), sqlite_where=sa.text('active AND category IS NULL'))

    op.create_table('wf_tickets',
    sa.Column('scenario', sa.String(length=60), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=True),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reporter_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('subject_person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('building_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('room', sa.String(length=8), nullable=True),
    sa.Column('village_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('house_number', sa.Integer(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('assignee_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('duplicate_of_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('moderation_state', sa.String(length=16), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('rating_comment', sa.String(length=500), nullable=True),
    sa.Column('rated_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sla_policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('response_minutes', sa.Integer(), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=True),
    sa.Column('calendar', sa.String(length=16), nullable=False),
    sa.Column('first_response_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_due_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_breached', sa.Boolean(), nullable=False),
    sa.Column('resolution_breached', sa.Boolean(), nullable=False),
    sa.Column('paused_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_from_status', sa.String(length=24), nullable=True),
    sa.Column('response_remaining_seconds', sa.Integer(), nullable=True),
    sa.Column('resolution_remaining_seconds', sa.Integer(), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("moderation_state IN ('visible', 'pending', 'hidden')", name=op.f('ck_wf_tickets_moderation_known')),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_wf_tickets_priority_known')),
    sa.CheckConstraint("status IN ('submitted', 'acknowledged', 'assigned', 'in_progress', 'awaiting_reporter', 'resolved', 'closed', 'reopened', 'rejected', 'duplicate')", name=op.f('ck_wf_tickets_status_known')),
    sa.CheckConstraint('escalation_level >= 0 AND version >= 1', name=op.f('ck_wf_tickets_counters_valid')),
    sa.CheckConstraint('rating IS NULL OR (rating >= 1 AND rating <= 5)', name=op.f('ck_wf_tickets_rating_range')),
    sa.ForeignKeyConstraint(['assignee_account_id'], ['accounts.id'], name=op.f('fk_wf_tickets_assignee_account_id_accounts')),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_wf_tickets_building_id_buildings')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_wf_tickets_community_id_communities')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['wf_tickets.id'], name=op.f('fk_wf_tickets_duplicate_of_id_wf_tickets')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_wf_tickets_org_id_organisations')),
    sa.ForeignKeyConstraint(['reporter_account_id'], ['accounts.id'], name=op.f('fk_wf_tickets_reporter_account_id_accounts')),
    sa.ForeignKeyConstraint(['sla_policy_id'], ['wf_sla_policies.id'], name=op.f('fk_wf_tickets_sla_policy_id_wf_sla_policies')),
    sa.ForeignKeyConstraint(['subject_person_id'], ['persons.id'], name=op.f('fk_wf_tickets_subject_person_id_persons')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_wf_tickets_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wf_tickets')),
    sa.UniqueConstraint('number', name=op.f('uq_wf_tickets_number'))
    )
    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_wf_tickets_building_category', ['building_id', 'category', 'created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_wf_tickets_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_index('ix_wf_tickets_org_created', ['org_id', 'created_at'], unique=False)
        batch_op.create_index('ix_wf_tickets_queue', ['org_id', 'scenario', 'is_open', 'due_at', 'id'], unique=False)
        batch_op.create_index('ix_wf_tickets_reporter_created', ['reporter_account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_wf_tickets_scenario_lat', ['scenario', 'lat'], unique=False)

    op.create_table('wf_ticket_events',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("actor_kind IN ('resident', 'staff', 'system')", name=op.f('ck_wf_ticket_events_actor_kind_known')),
    sa.ForeignKeyConstraint(['actor_account_id'], ['accounts.id'], name=op.f('fk_wf_ticket_events_actor_account_id_accounts')),
    sa.ForeignKeyConstraint(['actor_org_id'], ['organisations.id'], name=op.f('fk_wf_ticket_events_actor_org_id_organisations')),
    sa.ForeignKeyConstraint(['ticket_id'], ['wf_tickets.id'], name=op.f('fk_wf_ticket_events_ticket_id_wf_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wf_ticket_events'))
    )
    with op.batch_alter_table('wf_ticket_events', schema=None) as batch_op:
        batch_op.create_index('ix_wf_ticket_events_ticket_at', ['ticket_id', 'at'], unique=False)

    op.create_table('wf_ticket_photos',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('added_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("stage IN ('report', 'resolution')", name=op.f('ck_wf_ticket_photos_stage_known')),
    sa.ForeignKeyConstraint(['added_by_account_id'], ['accounts.id'], name=op.f('fk_wf_ticket_photos_added_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['event_id'], ['wf_ticket_events.id'], name=op.f('fk_wf_ticket_photos_event_id_wf_ticket_events')),
    sa.ForeignKeyConstraint(['ticket_id'], ['wf_tickets.id'], name=op.f('fk_wf_ticket_photos_ticket_id_wf_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_wf_ticket_photos_upload_id_uploads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wf_ticket_photos')),
    sa.UniqueConstraint('ticket_id', 'upload_id', name=op.f('uq_wf_ticket_photos_ticket_id_upload_id'))
    )
    with op.batch_alter_table('wf_ticket_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wf_ticket_photos_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('wf_ticket_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wf_ticket_photos_ticket_id'))

    op.drop_table('wf_ticket_photos')
    with op.batch_alter_table('wf_ticket_events', schema=None) as batch_op:
        batch_op.drop_index('ix_wf_ticket_events_ticket_at')

    op.drop_table('wf_ticket_events')
    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_wf_tickets_scenario_lat')
        batch_op.drop_index('ix_wf_tickets_reporter_created')
        batch_op.drop_index('ix_wf_tickets_queue')
        batch_op.drop_index('ix_wf_tickets_org_created')
        batch_op.drop_index(batch_op.f('ix_wf_tickets_duplicate_of_id'))
        batch_op.drop_index('ix_wf_tickets_building_category')

    op.drop_table('wf_tickets')
    with op.batch_alter_table('wf_sla_policies', schema=None) as batch_op:
        batch_op.drop_index('uq_wf_sla_policies_active_default', postgresql_where=sa.text('active AND category IS NULL'), sqlite_where=sa.text('active AND category IS NULL'))
        batch_op.drop_index('uq_wf_sla_policies_active_category', postgresql_where=sa.text('active AND category IS NOT NULL'), sqlite_where=sa.text('active AND category IS NOT NULL'))

    op.drop_table('wf_sla_policies')
    op.drop_table('wf_calendar_days')
