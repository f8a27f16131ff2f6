"""place-checkin: places (with their operator), sentinels bound to places, check-ins (ids only)

Revision ID: eb72817d71e0
Revises: e966aa2a5621
Create Date: 2026-11-22 02:18:49.038642
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = 'eb72817d71e0'
down_revision = 'e966aa2a5621'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkin_places',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('operator_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('residential_community', 'village', 'government_office', 'office_building', 'enterprise', 'shopping_mall', 'supermarket', 'farmers_market', 'restaurant', 'hotel', 'sports_venue', 'school', 'childcare', 'medical_institution', 'pharmacy', 'elderly_care', 'park', 'scenic_spot', 'cultural_venue', 'entertainment', 'transport_hub', 'public_transport', 'bank', 'service_hall', 'construction_site')", name=op.f('ck_checkin_places_kind_known')),
    sa.ForeignKeyConstraint(['operator_id'], ['organisations.id'], name=op.f('fk_checkin_places_operator_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_places')),
    sa.UniqueConstraint('code', name=op.f('uq_checkin_places_code'))
    )
    with op.batch_alter_table('checkin_places', schema=None) as batch_op:
        batch_op.create_index('ix_checkin_places_operator_kind', ['operator_id', 'kind'], unique=False)

    op.create_table('checkin_sentinels',
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('place_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bound_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_checkin_sentinels_device_id_devices')),
    sa.ForeignKeyConstraint(['place_id'], ['checkin_places.id'], name=op.f('fk_checkin_sentinels_place_id_checkin_places')),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_checkin_sentinels'))
    )
    with op.batch_alter_table('checkin_sentinels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_sentinels_place_id'), ['place_id'], unique=False)

    op.create_table('checkins',
    sa.Column('place_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("via IN ('resident_scan', 'sentinel')", name=op.f('ck_checkins_via_known')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_checkins_person_id_persons')),
    sa.ForeignKeyConstraint(['place_id'], ['checkin_places.id'], name=op.f('fk_checkins_place_id_checkin_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkins'))
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkins_at'), ['at'], unique=False)
        batch_op.create_index('ix_checkins_person_at', ['person_id', 'at'], unique=False)
        batch_op.create_index('ix_checkins_place_at', ['place_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_checkins_place_at')
        batch_op.drop_index('ix_checkins_person_at')
        batch_op.drop_index(batch_op.f('ix_checkins_at'))

    op.drop_table('checkins')
    with op.batch_alter_table('checkin_sentinels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_sentinels_place_id'))

    op.drop_table('checkin_sentinels')
    with op.batch_alter_table('checkin_places', schema=None) as batch_op:
        batch_op.drop_index('ix_checkin_places_operator_kind')

    op.drop_table('checkin_places')
