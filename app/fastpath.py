"""PostgreSQL fast paths of the platform's services, each doing in one statement what its
plain path does in two. ``tests/app/test_fastpath.py`` runs the same inputs through both on
PostgreSQL and compares every row written.

- ``enqueue_rows`` (plain path: ``app.notify.service.enqueue_many``'s outbox insert, then its
  delivery timers' upsert): the rows as one JSON document (``json_to_recordset``), a statement
  of constant text; a multi-row ``VALUES`` costs more to build and adapt than the database
  spends inserting.
- ``enqueue_to_query``: the same statement fed by a query of recipients instead of a document
  (the workflow engine's fast path tells an organisation's managers with it).

Callers choose with ``app.db.fast_paths_apply(session)``.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from app.notify.models import OutboxMessage
from app.notify.service import DELIVER_KIND
from app.timers import KEY_COLUMNS, Timer

_SOURCE_COLUMNS = ["event_key", "recipient_kind", "recipient_id", "channel", "template", "payload", "urgent"]


def _outbox_then_timers(source: sa.Select) -> Any:
    """One statement inserting the rows ``source`` yields (the ``_SOURCE_COLUMNS``,
    in the order their ids should follow) into the outbox, skipping those already there, and a
    delivery timer for each new one, as ``enqueue`` does in two. Parameter: ``now``. Returns
    the timers' ids (one per new row)."""
    o, m = OutboxMessage.__table__, Timer.__table__
    now = sa.bindparam("now", type_=UTCDateTime())
    new = (postgresql.insert(o)
           .from_select([*_SOURCE_COLUMNS, "state", "attempts", "created_at", "updated_at"],
                        source.add_columns(sa.literal("pending"), sa.literal(0), now, now))
           .on_conflict_do_nothing().returning(o.c.id).cte("new"))
    timers = postgresql.insert(m).from_select(
        ["subject_type", "subject_id", "kind", "level", "due_at", "state", "attempts", "created_at"],
        sa.select(sa.literal("outbox"), sa.cast(new.c.id, sa.String), sa.literal(DELIVER_KIND), sa.literal(0), now,
                  sa.literal("pending"), sa.literal(0), now))
    return timers.on_conflict_do_update(index_elements=list(KEY_COLUMNS), set_={
        "due_at": timers.excluded.due_at, "state": "pending", "attempts": 0, "last_error": None, "fired_at": None,
    }).returning(m.c.id)


@cache
def _rows_statement() -> Any:
    """The rows as one JSON document (``json_to_recordset``): a multi-row ``VALUES`` costs more
    to build and adapt than the database spends inserting. Parameters: ``rows``, ``now``."""
    x = sa.func.json_to_recordset(sa.bindparam("rows", type_=sa.JSON)).table_valued(
        sa.column("e", sa.Text), sa.column("k", sa.Text), sa.column("r", sa.Text), sa.column("c", sa.Text),
        sa.column("t", sa.Text), sa.column("p", postgresql.JSON), sa.column("u", sa.Boolean),
    ).render_derived("x", with_types=True)
    return _outbox_then_timers(sa.select(x.c.e, x.c.k, x.c.r, x.c.c, x.c.t, x.c.p, x.c.u))


def enqueue_rows(session: Session, rows: list[dict[str, Any]], now: datetime) -> int:
    """The outbox rows (as ``enqueue_many`` builds them) and their delivery timers in one
    statement of constant text. Returns how many rows were new."""
    document = [{"e": r["event_key"], "k": r["recipient_kind"], "r": r["recipient_id"], "c": r["channel"],
                 "t": r["template"], "p": r["payload"], "u": r["urgent"]} for r in rows]
    return len(session.execute(_rows_statement(), {"now": now, "rows": document}).all())


def enqueue_to_query(recipients: sa.Subquery) -> Any:
    """The statement that ``enqueue``s one event to the recipients a query yields,
    looking them up, writing their rows and delivery timers at once. ``recipients`` has the
    columns ``kind``, ``id`` (text) and ``rank`` (the order of the rows). Build it once and
    execute it with ``event_key``, ``template``, ``channel``, ``payload``, ``urgent``, ``now``
    and the query's own parameters."""
    return _outbox_then_timers(
        sa.select(sa.bindparam("event_key", type_=sa.String), recipients.c.kind, recipients.c.id,
                  sa.bindparam("channel", type_=sa.String), sa.bindparam("template", type_=sa.String),
                  sa.bindparam("payload", type_=OutboxMessage.__table__.c.payload.type),
                  sa.bindparam("urgent", type_=sa.Boolean))
        .order_by(recipients.c.rank))
