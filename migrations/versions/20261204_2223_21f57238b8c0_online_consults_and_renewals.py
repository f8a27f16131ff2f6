"""online-consult: consultation requests and renewals (health fields as sa.Text:
auth.pii.EncryptedText stores ciphertext)

Revision ID: 21f57238b8c0
Revises: 2d7ac660b32e
Create Date: 2026-12-04 22:23:30.380318
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '21f57238b8c0'
down_revision = '2d7ac660b32e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oc_consults',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('symptoms', sa.Text(), nullable=False),
    sa.Column('requested_json', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['patient_person_id'], ['persons.id'],
                            name=op.f('fk_oc_consults_patient_person_id_persons')),
    sa.ForeignKeyConstraint(['ticket_id'], ['wf_tickets.id'],
                            name=op.f('fk_oc_consults_ticket_id_wf_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id',
                            name=op.f('pk_oc_consults'))
    )
    with op.batch_alter_table('oc_consults', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oc_consults_patient_person_id'), ['patient_person_id'], unique=False)

    op.create_table('oc_renewals',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('doctor_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('items_json', sa.Text(), nullable=False),
    sa.Column('pass_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['doctor_account_id'], ['accounts.id'],
                            name=op.f('fk_oc_renewals_doctor_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pass_id'], ['qr_passes.id'],
                            name=op.f('fk_oc_renewals_pass_id_qr_passes')),
    sa.ForeignKeyConstraint(['ticket_id'], ['wf_tickets.id'],
                            name=op.f('fk_oc_renewals_ticket_id_wf_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id',
                            name=op.f('pk_oc_renewals')),
    sa.UniqueConstraint('ticket_id',
                            name=op.f('uq_oc_renewals_ticket_id'))
    )


def downgrade() -> None:
    op.drop_table('oc_renewals')
    with op.batch_alter_table('oc_consults', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oc_consults_patient_person_id'))

    op.drop_table('oc_consults')
