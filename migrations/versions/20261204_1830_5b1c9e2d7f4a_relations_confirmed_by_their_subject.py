"""auth: relations take effect once confirmed; ID numbers claimed while taken

- ``person_relations.status`` (pending | confirmed | declined) replaces ``verified``: a
  relation grants nothing until the person it is about confirms it in their app, or their
  committee or staff who saw the ID card in person do (``decided_via``, ``decided_at``,
  ``decided_by_account_id``, ``decided_by_org_id``). Verified rows become ``confirmed``, the
  others ``pending``.
- ``person_relations.claimed_name``: the name the requester typed (encrypted).
- ``persons.claimed_id_number``: an ID number typed in ``PATCH /me`` that another person holds
  (encrypted), kept so the answer does not tell it was taken.

Revision ID: 5b1c9e2d7f4a
Revises: 8db58b2bb5a4
Create Date: 2026-12-04 18:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db
import auth.pii

revision = '5b1c9e2d7f4a'
down_revision = '8db58b2bb5a4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_id_number', auth.pii.EncryptedText('person.claimed_id_number'),
                                      nullable=True))
    with op.batch_alter_table('person_relations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('claimed_name', auth.pii.EncryptedText('relation.claimed_name'), nullable=True))
        batch_op.add_column(sa.Column('decided_via', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('decided_at', app.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('decided_by_account_id', app.db.BigId, nullable=True))
        batch_op.add_column(sa.Column('decided_by_org_id', app.db.BigId, nullable=True))
    op.execute("UPDATE person_relations SET status = 'confirmed' WHERE verified")
    with op.batch_alter_table('person_relations', schema=None) as batch_op:
        batch_op.create_foreign_key(op.f('fk_person_relations_decided_by_account_id_accounts'), 'accounts',
                                    ['decided_by_account_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_person_relations_decided_by_org_id_organisations'),
                                    'organisations', ['decided_by_org_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_person_relations_status_known'),
                                         "status IN ('pending', 'confirmed', 'declined')")
        batch_op.create_check_constraint(
            op.f('ck_person_relations_decided_via_known'),
            "decided_via IS NULL OR decided_via IN ('subject', 'committee', 'in_person')")
        batch_op.drop_column('verified')


def downgrade() -> None:
    with op.batch_alter_table('person_relations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE person_relations SET verified = (status = 'confirmed')")
    with op.batch_alter_table('person_relations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_person_relations_decided_via_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_person_relations_status_known'), type_='check')
        batch_op.drop_constraint(op.f('fk_person_relations_decided_by_org_id_organisations'),
                                 type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_person_relations_decided_by_account_id_accounts'),
                                 type_='foreignkey')
        batch_op.drop_column('decided_by_org_id')
        batch_op.drop_column('decided_by_account_id')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_via')
        batch_op.drop_column('claimed_name')
        batch_op.drop_column('status')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_column('claimed_id_number')
