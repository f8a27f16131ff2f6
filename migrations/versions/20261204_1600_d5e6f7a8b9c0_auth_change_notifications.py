"""authentication caches told of every change: NOTIFY triggers (PostgreSQL), a change counter (SQLite)

Each process keeps what authentication needs (``auth.cache``). On PostgreSQL, triggers send
``pg_notify('auth_changed', '<kind>:<key>@<epoch>')`` in the changing transaction (delivered
only if it commits); on SQLite, triggers bump ``auth_changes.counter``.

Revision ID: d5e6f7a8b9c0
Revises: c4a1d2e3f5b6
Create Date: 2026-12-04 16:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'd5e6f7a8b9c0'
down_revision = 'c4a1d2e3f5b6'
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION auth_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  msg text;
BEGIN
  IF TG_TABLE_NAME = 'accounts' THEN
    msg := 'account:' || COALESCE(NEW.id, OLD.id);
  ELSIF TG_TABLE_NAME = 'memberships' THEN
    msg := 'account:' || COALESCE(NEW.account_id, OLD.account_id);
  ELSIF TG_TABLE_NAME = 'refresh_tokens' THEN
    msg := 'family:' || COALESCE(NEW.family_id, OLD.family_id);
  ELSIF TG_TABLE_NAME = 'devices' THEN
    msg := 'device:' || COALESCE(NEW.uid, OLD.uid);
  ELSE
    msg := 'org:' || COALESCE(NEW.id, OLD.id);
  END IF;
  PERFORM pg_notify('auth_changed', msg || '@' || extract(epoch from clock_timestamp()));
  RETURN NULL;
END
$$
"""

# (trigger name, table, events, condition): the columns authentication reads, and deletions.
TRIGGERS = (
    ("auth_notify_accounts", "accounts", "UPDATE OF status, kind, person_id OR DELETE", None),
    ("auth_notify_memberships", "memberships", "INSERT OR UPDATE OR DELETE", None),
    ("auth_notify_refresh_tokens", "refresh_tokens", "UPDATE OF revoked_at OR DELETE", None),
    ("auth_notify_devices", "devices", "UPDATE OF status, kind, secret_hash, organisation_id OR DELETE", None),
    ("auth_notify_organisations", "organisations", "UPDATE OF active, code, type OR DELETE", None),
)

SQLITE_TRIGGERS = (
    ("accounts", "UPDATE OF status, kind, person_id"), ("accounts", "DELETE"),
    ("memberships", "INSERT"), ("memberships", "UPDATE"), ("memberships", "DELETE"),
    ("refresh_tokens", "UPDATE OF revoked_at"), ("refresh_tokens", "DELETE"),
    ("devices", "UPDATE OF status, kind, secret_hash, organisation_id"), ("devices", "DELETE"),
    ("organisations", "UPDATE OF active, code, type"), ("organisations", "DELETE"),
)


def _sqlite_name(table: str, event: str) -> str:
    return f"auth_changes_{table}_{event.split()[0].lower()}"


def upgrade() -> None:
    op.create_table('auth_changes',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('counter', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_changes'))
    )
    op.execute("INSERT INTO auth_changes (id, counter) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for name, table, events, _ in TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} AFTER {events} ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION auth_notify()")
    else:
        for table, event in SQLITE_TRIGGERS:
            op.execute(f"CREATE TRIGGER {_sqlite_name(table, event)} AFTER {event} ON {table} "
                       "BEGIN UPDATE auth_changes SET counter = counter + 1 WHERE id = 1; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _, _ in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS auth_notify()")
    else:
        for table, event in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {_sqlite_name(table, event)}")
    op.drop_table('auth_changes')
