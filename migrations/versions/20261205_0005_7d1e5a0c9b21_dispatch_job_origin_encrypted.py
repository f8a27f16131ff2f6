"""dispatch: a job's point encrypted (it may be a home: an SOS alarm's), cleared after retention

- ``dispatch_jobs.origin_point`` (``"lat,lon"``, AES-GCM, purpose ``dispatch.origin``) replaces
  ``origin_lat`` / ``origin_lon`` in clear; existing rows are encrypted with the settings'
  current data key. Nullable: the retention job clears it once the job ended long enough ago.
- ``ix_dispatch_jobs_origin_kept``: the ended jobs whose point is still kept, for that job.

Revision ID: 7d1e5a0c9b21
Revises: 4bccdc1d3424
Create Date: 2026-12-05 00:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import auth.pii
from app.config import load_settings

revision = '7d1e5a0c9b21'
down_revision = '4bccdc1d3424'
branch_labels = None
depends_on = None

PURPOSE = "dispatch.origin"


def upgrade() -> None:
    with op.batch_alter_table('dispatch_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_point', auth.pii.EncryptedText(PURPOSE), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, origin_lat, origin_lon FROM dispatch_jobs")).all()
    if rows:
        ring = auth.pii.keyring_from_settings(load_settings())
        for job_id, lat, lon in rows:
            conn.execute(sa.text("UPDATE dispatch_jobs SET origin_point = :p WHERE id = :id"),
                         {"p": ring.encrypt(f"{lat!r},{lon!r}", PURPOSE), "id": job_id})
    with op.batch_alter_table('dispatch_jobs', schema=None) as batch_op:
        batch_op.drop_column('origin_lat')
        batch_op.drop_column('origin_lon')
        batch_op.create_index('ix_dispatch_jobs_origin_kept', ['ended_at'], unique=False,
                              postgresql_where=sa.text('origin_point IS NOT NULL'),
                              sqlite_where=sa.text('origin_point IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('dispatch_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_jobs_origin_kept', postgresql_where=sa.text('origin_point IS NOT NULL'),
                            sqlite_where=sa.text('origin_point IS NOT NULL'))
        batch_op.add_column(sa.Column('origin_lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('origin_lon', sa.Float(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, origin_point FROM dispatch_jobs WHERE origin_point IS NOT NULL")).all()
    if rows:
        ring = auth.pii.keyring_from_settings(load_settings())
        for job_id, stored in rows:
            lat, _, lon = ring.decrypt(stored, PURPOSE).partition(",")
            conn.execute(sa.text("UPDATE dispatch_jobs SET origin_lat = :lat, origin_lon = :lon WHERE id = :id"),
                         {"lat": float(lat), "lon": float(lon), "id": job_id})
    op.execute("UPDATE dispatch_jobs SET origin_lat = 0, origin_lon = 0 WHERE origin_lat IS NULL")
    with op.batch_alter_table('dispatch_jobs', schema=None) as batch_op:
        batch_op.alter_column('origin_lat', nullable=False)
        batch_op.alter_column('origin_lon', nullable=False)
        batch_op.drop_column('origin_point')
