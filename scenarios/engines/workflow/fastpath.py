"""PostgreSQL fast paths of the workflow engine, each doing in one statement what its plain
path does in several. ``tests/engines/workflow/test_fastpath.py`` runs the same inputs through
both on PostgreSQL and compares every row written.

- ``file_ticket`` (plain path: ``filing.file`` through the ORM: INSERT the ticket in a
  savepoint under a random number, INSERT the event, upsert the timers) — filing is the
  hottest write of the district's busiest scenario::

      WITH n AS (SELECT nextval(<the ticket id sequence>) AS id),
           t AS (INSERT INTO wf_tickets (id, number, …) SELECT n.id, <number>, … FROM n
                 ON CONFLICT (number) DO NOTHING RETURNING id),
           e AS (INSERT INTO wf_ticket_events (ticket_id, …) SELECT t.id, … FROM t RETURNING id, ticket_id),
           m AS (INSERT INTO timers (…) SELECT … FROM t, json_to_recordset(<the timers>) …)
      SELECT e.ticket_id, e.id FROM e

  (foreign keys are checked at the end of the statement, so the event may name the ticket the
  same statement inserts). A taken number inserts nothing and returns no row: the statement
  is run again with a new number (no savepoint needed). The ticket and the event are then attached to the session as if
  loaded, so what follows (photos, moderation, routing, the answer) works on them as before.
- ``tell_org_staff`` (plain path: ``notifications.tell`` to ``notifications.org_staff``): the
  members query, the outbox rows and their delivery timers in one ``INSERT … SELECT``
  (``app.fastpath.enqueue_to_query``).
- ``system_events`` (plain path: ``escalation`` inserting the rows with executemany): the
  escalation pass's events as one JSON document, a statement of constant text.

Callers choose with ``app.db.fast_paths_apply(session)``.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from app.clock import Clock
from app.db import UTCDateTime, utcnow
from app.fastpath import enqueue_to_query
from app.notify.channels import CHANNELS
from app.notify.service import staff_channel
from app.timers import Timer
from scenarios.engines.workflow import notifications as notify
from scenarios.engines.workflow import numbers
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import Ticket, TicketEvent

_T, _E, _M = Ticket.__table__, TicketEvent.__table__, Timer.__table__
_TICKET_COLUMNS = [c for c in _T.c if c.key not in ("id", "number")]
_EVENT_COLUMNS = [c for c in _E.c if c.key not in ("id", "ticket_id")]


@cache
def _filing(ticket_columns: tuple[str, ...], event_columns: tuple[str, ...]) -> sa.Select:
    """The statement inserting these (non-null) columns, built once per set (parameters named
    ``t_<column>``, ``e_<column>``; the timers as one JSON list). Few parameters and no nulls
    keep it short enough for psycopg to cache its conversion and prepare it."""
    n = sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(_T.name, "id")).label("id")).cte("n")
    ticket = pg_insert(_T).from_select(
        ["id", "number", *ticket_columns],
        sa.select(n.c.id, sa.bindparam("number", type_=sa.String),
                  *(sa.bindparam(f"t_{k}", type_=_T.c[k].type) for k in ticket_columns)),
        include_defaults=False,
    ).on_conflict_do_nothing(index_elements=["number"]).returning(_T.c.id).cte("t")
    digits = sa.cast(ticket.c.id, sa.String)
    event = _E.insert().from_select(
        ["ticket_id", *event_columns],
        sa.select(ticket.c.id, *(sa.bindparam(f"e_{k}", type_=_E.c[k].type) for k in event_columns)),
        include_defaults=False,
    ).returning(_E.c.id, _E.c.ticket_id).cte("e")
    due = sa.func.json_to_recordset(sa.bindparam("timers", type_=sa.JSON)).table_valued(
        sa.column("kind", sa.String), sa.column("level", sa.Integer), sa.column("due_at", sa.DateTime(timezone=True)),
    ).render_derived("due", with_types=True)
    timers = _M.insert().from_select(
        ["subject_type", "subject_id", "kind", "level", "due_at", "state", "attempts", "created_at"],
        sa.select(sa.bindparam("subject_type", type_=sa.String), digits, due.c.kind, due.c.level, due.c.due_at,
                  sa.literal_column("'pending'"), sa.literal_column("0"),
                  sa.bindparam("created_at", type_=_M.c.created_at.type)).select_from(ticket).join(due, sa.true()),
        include_defaults=False,
    ).cte("m")
    return sa.select(event.c.ticket_id, event.c.id).add_cte(timers)


def _values(obj: Any, columns: list[sa.Column], prefix: str) -> dict[str, Any]:
    """The object's non-null column values; a column left unset must have no default (it is
    NULL, and so is the attribute)."""
    out = {}
    for c in columns:
        if c.key not in obj.__dict__:
            if c.default is not None or c.server_default is not None:
                raise ValueError(f"{type(obj).__name__}.{c.key} has a default: set it before filing")
            setattr(obj, c.key, None)
        value = getattr(obj, c.key)
        if value is not None:
            out[f"{prefix}{c.key}"] = value
    return out


def _attach(session: Session, obj: Any) -> None:
    """Into the session as a loaded (persistent, unchanged) row: later changes are UPDATEs."""
    make_transient_to_detached(obj)
    session.add(obj)


def file_ticket(session: Session, ticket: Ticket, event: TicketEvent, timers: list[tuple[str, int, datetime]],
                *, number_head: str, subject_type: str) -> None:
    """Insert ``ticket`` (numbered ``number_head`` + a random block, retried while taken),
    ``event`` and the ticket's ``timers`` (kind, level, due; subject ``subject_type``) in one
    statement."""
    ticket_values, event_values = _values(ticket, _TICKET_COLUMNS, "t_"), _values(event, _EVENT_COLUMNS, "e_")
    stmt = _filing(tuple(k[2:] for k in ticket_values), tuple(k[2:] for k in event_values))
    params = {**ticket_values, **event_values, "subject_type": subject_type, "created_at": utcnow(),
              "timers": [{"kind": k, "level": level, "due_at": due.isoformat()} for k, level, due in timers]}
    for _ in range(numbers.MAX_ATTEMPTS):
        number = numbers.new_number(number_head)
        row = session.execute(stmt, {**params, "number": number}).one_or_none()
        if row is not None:
            break
    else:
        raise numbers.NumberExhausted(number_head)
    ticket_id, event_id = row
    ticket.id, ticket.number = ticket_id, number
    event.id, event.ticket_id = event_id, ticket_id
    _attach(session, ticket)
    _attach(session, event)


@cache
def _tell_staff() -> Any:
    """Built once: the hot path of filing."""
    return enqueue_to_query(notify.staff_recipients(
        sa.bindparam("org_id", type_=sa.BigInteger), sa.bindparam("roles", expanding=True)))


def tell_org_staff(session: Session, clock: Clock, ticket: Ticket, *, org_id: int, key: str, template: str,
                   roles: tuple[str, ...], config: WorkflowConfig, urgent: bool = False) -> None:
    """``notify.tell(…, recipients=notify.org_staff(session, org_id, roles))`` in one statement
    (``notify.staff_recipients`` through ``app.fastpath.enqueue_to_query``); the recipients are
    staff, so an ``auto`` notice takes the staff channel."""
    channel = staff_channel(config.notify_channel)
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {config.notify_channel!r}")
    notice = notify.envelope(clock, ticket, key=key, template=template, config=config, urgent=urgent)
    session.execute(_tell_staff(), {
        "org_id": org_id, "roles": list(roles), "event_key": notice.event_key, "channel": channel,
        "template": notice.template, "payload": notice.payload, "urgent": notice.urgent, "now": clock.now()})


_SYSTEM_EVENTS = sa.text("""
    INSERT INTO wf_ticket_events (ticket_id, at, actor_kind, action, data)
    SELECT t, :now, 'system', a, d FROM json_to_recordset(CAST(:rows AS json)) AS x(t bigint, a text, d json)
""").bindparams(sa.bindparam("now", type_=UTCDateTime()))


def system_events(session: Session, now: datetime, action: str, data: list[tuple[int, dict]]) -> None:
    """One system event per (ticket id, data), the rows as one JSON document."""
    document = json.dumps([{"t": tid, "a": action, "d": d} for tid, d in data])
    session.execute(_SYSTEM_EVENTS, {"now": now, "rows": document})
