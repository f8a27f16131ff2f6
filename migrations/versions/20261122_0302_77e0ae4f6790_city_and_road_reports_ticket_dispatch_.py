"""city and road reports: the dispatching organisation of tickets, roads, road notices

``wf_tickets.dispatch_org_id`` (the organisation that routes a ticket and keeps seeing it:
区城运中心 for city-report) with its queue index, an index for "assigned to me" (road chiefs)
and one for a scenario's tickets over a period (hot spots); road-report's ``roads`` (a
polyline and its bounding box, the chief's membership) and ``road_notices`` (closures,
works, detours, by date).

Revision ID: 77e0ae4f6790
Revises: 70d243b779bd
Create Date: 2026-11-22 03:02:08.537945
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '77e0ae4f6790'
down_revision = '70d243b779bd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('roads',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('town_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('chief_membership_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('points', sa.JSON(), nullable=False),
    sa.Column('min_lat', sa.Float(), nullable=False),
    sa.Column('min_lon', sa.Float(), nullable=False),
    sa.Column('max_lat', sa.Float(), nullable=False),
    sa.Column('max_lon', sa.Float(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('min_lat <= max_lat AND min_lon <= max_lon', name=op.f('ck_roads_bbox_ordered')),
    sa.ForeignKeyConstraint(['chief_membership_id'], ['memberships.id'], name=op.f('fk_roads_chief_membership_id_memberships')),
    sa.ForeignKeyConstraint(['town_id'], ['organisations.id'], name=op.f('fk_roads_town_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roads')),
    sa.UniqueConstraint('code', name=op.f('uq_roads_code'))
    )
    with op.batch_alter_table('roads', schema=None) as batch_op:
        batch_op.create_index('ix_roads_bbox', ['min_lat', 'max_lat', 'min_lon', 'max_lon'], unique=False)

    op.create_table('road_notices',
    sa.Column('road_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('withdrawn_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('closure', 'works', 'detour')", name=op.f('ck_road_notices_kind_known')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_road_notices_dates_ordered')),
    sa.ForeignKeyConstraint(['created_by_account_id'], ['accounts.id'], name=op.f('fk_road_notices_created_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_road_notices_org_id_organisations')),
    sa.ForeignKeyConstraint(['road_id'], ['roads.id'], name=op.f('fk_road_notices_road_id_roads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_road_notices'))
    )
    with op.batch_alter_table('road_notices', schema=None) as batch_op:
        batch_op.create_index('ix_road_notices_ends', ['ends_on'], unique=False)
        batch_op.create_index('ix_road_notices_road_ends', ['road_id', 'ends_on'], unique=False)

    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index('ix_wf_tickets_assignee_queue', ['assignee_account_id', 'scenario', 'is_open', 'due_at'], unique=False)
        batch_op.create_index('ix_wf_tickets_dispatch_queue', ['dispatch_org_id', 'scenario', 'is_open', 'due_at', 'id'], unique=False)
        batch_op.create_index('ix_wf_tickets_scenario_created', ['scenario', 'created_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_wf_tickets_dispatch_org_id_organisations'), 'organisations', ['dispatch_org_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('wf_tickets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_wf_tickets_dispatch_org_id_organisations'), type_='foreignkey')
        batch_op.drop_index('ix_wf_tickets_scenario_created')
        batch_op.drop_index('ix_wf_tickets_dispatch_queue')
        batch_op.drop_index('ix_wf_tickets_assignee_queue')
        batch_op.drop_column('dispatch_org_id')

    with op.batch_alter_table('road_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_road_notices_road_ends')
        batch_op.drop_index('ix_road_notices_ends')

    op.drop_table('road_notices')
    with op.batch_alter_table('roads', schema=None) as batch_op:
        batch_op.drop_index('ix_roads_bbox')

    op.drop_table('roads')
