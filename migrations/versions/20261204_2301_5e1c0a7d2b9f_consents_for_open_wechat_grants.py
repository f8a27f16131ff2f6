"""consents: a resident with an open WeChat subscription grant consented in WeChat's dialog

The WeChat channel now needs the consent ``wechat_subscription`` in effect (issue 22); accepting
a subscription gives it from now on. Residents who accepted before keep their messages: one
consent per person with an open grant, at the time of their first open grant.

Revision ID: 5e1c0a7d2b9f
Revises: cde5dee29237
Create Date: 2026-12-04 22:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '5e1c0a7d2b9f'
down_revision = 'cde5dee29237'
branch_labels = None
depends_on = None

VERSION = "2026-12-01"  # PURPOSES["wechat_subscription"].version when this was written


def upgrade() -> None:
    op.execute(sa.text(
        "INSERT INTO consents (person_id, account_id, purpose, version, given_at) "
        "SELECT a.person_id, MIN(a.id), 'wechat_subscription', :version, MIN(g.granted_at) "
        "FROM subscription_grants g JOIN accounts a ON a.id = g.account_id "
        "WHERE g.consumed_at IS NULL AND a.person_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.person_id = a.person_id "
        "AND c.purpose = 'wechat_subscription') "
        "GROUP BY a.person_id").bindparams(version=VERSION))


def downgrade() -> None:
    pass  # consents are records of what people said: never deleted by a schema change
