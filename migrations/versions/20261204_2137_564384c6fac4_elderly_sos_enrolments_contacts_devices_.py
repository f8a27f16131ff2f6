"""elderly sos enrolments contacts devices alarms; dispatch jobs on nobody's account

The encrypted columns (sos_enrolments.address, home_point, health; sos_contacts.name, phone;
sos_alarms.outcome_text) are TEXT here: auth.pii.EncryptedText encrypts in Python.
dispatch_jobs.requester_account_id becomes nullable (an SOS device's alarm is nobody's account).

Revision ID: 564384c6fac4
Revises: a9be2565a250
Create Date: 2026-12-04 21:37:45.687850
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '564384c6fac4'
down_revision = 'a9be2565a250'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sos_enrolments',
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('committee_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enrolled_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hukou_shanghai', sa.Boolean(), nullable=False),
    sa.Column('lives_alone', sa.Boolean(), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('home_point', sa.Text(), nullable=True),
    sa.Column('health', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('end_reason', sa.String(length=24), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("end_reason IS NULL OR end_reason IN ('moved_away', 'moved_in_with_family', 'died', 'other')", name=op.f('ck_sos_enrolments_end_reason_known')),
    sa.CheckConstraint("state IN ('active', 'ended')", name=op.f('ck_sos_enrolments_state_known')),
    sa.ForeignKeyConstraint(['committee_org_id'], ['organisations.id'], name=op.f('fk_sos_enrolments_committee_org_id_organisations')),
    sa.ForeignKeyConstraint(['enrolled_by_account_id'], ['accounts.id'], name=op.f('fk_sos_enrolments_enrolled_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_sos_enrolments_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sos_enrolments'))
    )
    with op.batch_alter_table('sos_enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sos_enrolments_committee_org_id'), ['committee_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sos_enrolments_person_id'), ['person_id'], unique=False)
        batch_op.create_index('uq_sos_enrolments_active_person', ['person_id'], unique=True, postgresql_where=sa.text("state = 'active'"), sqlite_where=sa.text("state = 'active'"))

    op.create_table('sos_contacts',
    sa.Column('enrolment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('may_alarm', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("relation IN ('family', 'neighbour', 'friend', 'other')", name=op.f('ck_sos_contacts_relation_known')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sos_contacts_account_id_accounts')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['sos_enrolments.id'], name=op.f('fk_sos_contacts_enrolment_id_sos_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sos_contacts')),
    sa.UniqueConstraint('enrolment_id', 'position', name=op.f('uq_sos_contacts_enrolment_id_position'))
    )
    with op.batch_alter_table('sos_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_sos_contacts_account', ['account_id'], unique=False)

    op.create_table('sos_devices',
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('enrolment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('assigned_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("kind IN ('pull_cord', 'wearable')", name=op.f('ck_sos_devices_kind_known')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_sos_devices_device_id_devices')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['sos_enrolments.id'], name=op.f('fk_sos_devices_enrolment_id_sos_enrolments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sos_devices')),
    sa.UniqueConstraint('device_id', name=op.f('uq_sos_devices_device_id'))
    )
    with op.batch_alter_table('sos_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sos_devices_enrolment_id'), ['enrolment_id'], unique=False)

    op.create_table('sos_alarms',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('enrolment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('raised_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('call_centre_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('committee_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('presses', sa.Integer(), nullable=False),
    sa.Column('last_press_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ack_due_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('responder_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('visit_accepted_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('arrival_due_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('chain', sa.String(length=16), nullable=True),
    sa.Column('chain_started_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('chain_level', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('outcome_text', sa.Text(), nullable=True),
    sa.Column('closed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("(state = 'closed') = (outcome IS NOT NULL)", name=op.f('ck_sos_alarms_closed_with_outcome')),
    sa.CheckConstraint("chain IS NULL OR chain IN ('ack', 'arrival')", name=op.f('ck_sos_alarms_chain_known')),
    sa.CheckConstraint("kind IN ('button', 'device', 'inactivity')", name=op.f('ck_sos_alarms_kind_known')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('false_alarm', 'helped_at_home', 'taken_to_hospital', 'other')", name=op.f('ck_sos_alarms_outcome_known')),
    sa.CheckConstraint("state IN ('open', 'acknowledged', 'visiting', 'on_scene', 'closed')", name=op.f('ck_sos_alarms_state_known')),
    sa.CheckConstraint('chain_level >= 0 AND presses >= 1', name=op.f('ck_sos_alarms_counts_valid')),
    sa.ForeignKeyConstraint(['acknowledged_by_account_id'], ['accounts.id'], name=op.f('fk_sos_alarms_acknowledged_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['call_centre_org_id'], ['organisations.id'], name=op.f('fk_sos_alarms_call_centre_org_id_organisations')),
    sa.ForeignKeyConstraint(['closed_by_account_id'], ['accounts.id'], name=op.f('fk_sos_alarms_closed_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['committee_org_id'], ['organisations.id'], name=op.f('fk_sos_alarms_committee_org_id_organisations')),
    sa.ForeignKeyConstraint(['device_id'], ['sos_devices.id'], name=op.f('fk_sos_alarms_device_id_sos_devices')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['sos_enrolments.id'], name=op.f('fk_sos_alarms_enrolment_id_sos_enrolments')),
    sa.ForeignKeyConstraint(['job_id'], ['dispatch_jobs.id'], name=op.f('fk_sos_alarms_job_id_dispatch_jobs')),
    sa.ForeignKeyConstraint(['raised_by_account_id'], ['accounts.id'], name=op.f('fk_sos_alarms_raised_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['responder_account_id'], ['accounts.id'], name=op.f('fk_sos_alarms_responder_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sos_alarms')),
    sa.UniqueConstraint('job_id', name=op.f('uq_sos_alarms_job_id'))
    )
    with op.batch_alter_table('sos_alarms', schema=None) as batch_op:
        batch_op.create_index('ix_sos_alarms_created', ['created_at'], unique=False)
        batch_op.create_index('ix_sos_alarms_device', ['device_id', 'created_at'], unique=False)
        batch_op.create_index('ix_sos_alarms_enrolment', ['enrolment_id', 'created_at'], unique=False)
        batch_op.create_index('ix_sos_alarms_open', ['state', 'created_at'], unique=False)

    op.create_table('sos_alarm_events',
    sa.Column('alarm_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('actor_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['actor_account_id'], ['accounts.id'], name=op.f('fk_sos_alarm_events_actor_account_id_accounts')),
    sa.ForeignKeyConstraint(['alarm_id'], ['sos_alarms.id'], name=op.f('fk_sos_alarm_events_alarm_id_sos_alarms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sos_alarm_events'))
    )
    with op.batch_alter_table('sos_alarm_events', schema=None) as batch_op:
        batch_op.create_index('ix_sos_alarm_events_alarm', ['alarm_id', 'id'], unique=False)

    with op.batch_alter_table('dispatch_jobs', schema=None) as batch_op:
        batch_op.alter_column('requester_account_id',
               existing_type=sa.INTEGER(),
               nullable=True)



def downgrade() -> None:
    with op.batch_alter_table('dispatch_jobs', schema=None) as batch_op:
        batch_op.alter_column('requester_account_id',
               existing_type=sa.INTEGER(),
               nullable=False)

    with op.batch_alter_table('sos_alarm_events', schema=None) as batch_op:
        batch_op.drop_index('ix_sos_alarm_events_alarm')

    op.drop_table('sos_alarm_events')
    with op.batch_alter_table('sos_alarms', schema=None) as batch_op:
        batch_op.drop_index('ix_sos_alarms_open')
        batch_op.drop_index('ix_sos_alarms_enrolment')
        batch_op.drop_index('ix_sos_alarms_device')
        batch_op.drop_index('ix_sos_alarms_created')

    op.drop_table('sos_alarms')
    with op.batch_alter_table('sos_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sos_devices_enrolment_id'))

    op.drop_table('sos_devices')
    with op.batch_alter_table('sos_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_sos_contacts_account')

    op.drop_table('sos_contacts')
    with op.batch_alter_table('sos_enrolments', schema=None) as batch_op:
        batch_op.drop_index('uq_sos_enrolments_active_person', postgresql_where=sa.text("state = 'active'"), sqlite_where=sa.text("state = 'active'"))
        batch_op.drop_index(batch_op.f('ix_sos_enrolments_person_id'))
        batch_op.drop_index(batch_op.f('ix_sos_enrolments_committee_org_id'))

    op.drop_table('sos_enrolments')
