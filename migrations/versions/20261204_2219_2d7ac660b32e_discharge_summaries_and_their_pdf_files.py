"""discharge-summary: summaries (health fields as sa.Text: auth.pii.EncryptedText stores
ciphertext) and their PDF files

Revision ID: 2d7ac660b32e
Revises: 60bff3900e28
Create Date: 2026-12-04 22:19:01.777258
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '2d7ac660b32e'
down_revision = '60bff3900e28'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ds_files',
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('uploaded_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                            name=op.f('fk_ds_files_org_id_organisations')),
    sa.ForeignKeyConstraint(['uploaded_by_account_id'], ['accounts.id'],
                            name=op.f('fk_ds_files_uploaded_by_account_id_accounts')),
    sa.PrimaryKeyConstraint('id',
                            name=op.f('pk_ds_files')),
    sa.UniqueConstraint('public_id',
                            name=op.f('uq_ds_files_public_id'))
    )
    with op.batch_alter_table('ds_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ds_files_org_id'), ['org_id'], unique=False)

    op.create_table('ds_summaries',
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('file_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('admitted_on', sa.String(length=10), nullable=True),
    sa.Column('discharged_on', sa.String(length=10), nullable=False),
    sa.Column('diagnosis', sa.Text(), nullable=False),
    sa.Column('advice', sa.Text(), nullable=True),
    sa.Column('medicines_json', sa.Text(), nullable=False),
    sa.Column('follow_ups_json', sa.Text(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['author_account_id'], ['accounts.id'],
                            name=op.f('fk_ds_summaries_author_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['file_id'], ['ds_files.id'],
                            name=op.f('fk_ds_summaries_file_id_ds_files')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                            name=op.f('fk_ds_summaries_org_id_organisations')),
    sa.ForeignKeyConstraint(['patient_person_id'], ['persons.id'],
                            name=op.f('fk_ds_summaries_patient_person_id_persons')),
    sa.PrimaryKeyConstraint('id',
                            name=op.f('pk_ds_summaries'))
    )
    with op.batch_alter_table('ds_summaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ds_summaries_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_ds_summaries_patient_created', ['patient_person_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ds_summaries', schema=None) as batch_op:
        batch_op.drop_index('ix_ds_summaries_patient_created')
        batch_op.drop_index(batch_op.f('ix_ds_summaries_org_id'))

    op.drop_table('ds_summaries')
    with op.batch_alter_table('ds_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ds_files_org_id'))

    op.drop_table('ds_files')
