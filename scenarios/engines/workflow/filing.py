"""Writing a new ticket on PostgreSQL in two round trips: the ticket (its number made from its
id in the same statement), its ``create`` event and its SLA timers in one; telling the owning
organisation's managers in the other.

Through the ORM that is four statements (INSERT the ticket, UPDATE its number once the id is
known, INSERT the event, upsert the timers); filing is the hottest write of the district's
busiest scenario, so on PostgreSQL one statement does it with data-modifying CTEs::

    WITH n AS (SELECT nextval(<the ticket id sequence>) AS id),
         t AS (INSERT INTO wf_tickets (id, number, …) SELECT n.id, <head> || lpad(n.id…), … FROM n),
         e AS (INSERT INTO wf_ticket_events (ticket_id, …) SELECT n.id, … FROM n RETURNING id, ticket_id),
         m AS (INSERT INTO timers (…) SELECT … FROM n, json_to_recordset(<the timers>) …)
    SELECT e.ticket_id, e.id FROM e

(foreign keys are checked at the end of the statement, so the event may name the ticket the
same statement inserts). The ticket and the event are then attached to the session as if
loaded, so what follows (photos, moderation, routing, the answer) works on them as before.

Telling the managers (``tell_org_staff``) is ``notifications.tell`` to ``notifications.org_staff``
— find the members, insert their outbox rows (``ON CONFLICT DO NOTHING``), add a delivery
timer per new row, as ``app.notify.service.enqueue`` does — in one ``INSERT … SELECT``. A test
compares its rows with ``tell``'s, so the two cannot drift apart unnoticed.

Other databases (SQLite) take the ORM path in ``service.create``; the same tests run on both.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, make_transient_to_detached

from app.clock import Clock
from app.db import utcnow
from app.notify.channels import CHANNELS
from app.notify.models import OutboxMessage
from app.notify.service import DELIVER_KIND
from app.timers import KEY_COLUMNS, Timer
from auth.models import Account, Membership
from scenarios.engines.workflow import notifications as notify
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import Ticket, TicketEvent

_T, _E, _M = Ticket.__table__, TicketEvent.__table__, Timer.__table__
_TICKET_COLUMNS = [c for c in _T.c if c.key not in ("id", "number")]
_EVENT_COLUMNS = [c for c in _E.c if c.key not in ("id", "ticket_id")]
_STATEMENTS: dict[tuple[tuple[str, ...], tuple[str, ...]], sa.Select] = {}


def _statement(ticket_columns: tuple[str, ...], event_columns: tuple[str, ...]) -> sa.Select:
    """The statement inserting these (non-null) columns, built once per set (parameters named
    ``t_<column>``, ``e_<column>``; the timers as one JSON list). Few parameters and no nulls
    keep it short enough for psycopg to cache its conversion and prepare it."""
    key = (ticket_columns, event_columns)
    if key in _STATEMENTS:
        return _STATEMENTS[key]
    n = sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(_T.name, "id")).label("id")).cte("n")
    digits = sa.cast(n.c.id, sa.String)
    number = sa.bindparam("number_head", type_=sa.String) + sa.func.lpad(
        digits, sa.func.greatest(6, sa.func.length(digits)), "0")  # f"{id:06d}": never cut
    ticket = _T.insert().from_select(
        ["id", "number", *ticket_columns],
        sa.select(n.c.id, number, *(sa.bindparam(f"t_{k}", type_=_T.c[k].type) for k in ticket_columns)),
        include_defaults=False,
    ).cte("t")
    event = _E.insert().from_select(
        ["ticket_id", *event_columns],
        sa.select(n.c.id, *(sa.bindparam(f"e_{k}", type_=_E.c[k].type) for k in event_columns)),
        include_defaults=False,
    ).returning(_E.c.id, _E.c.ticket_id).cte("e")
    due = sa.func.json_to_recordset(sa.bindparam("timers", type_=sa.JSON)).table_valued(
        sa.column("kind", sa.String), sa.column("level", sa.Integer), sa.column("due_at", sa.DateTime(timezone=True)),
    ).render_derived("due", with_types=True)
    timers = _M.insert().from_select(
        ["subject_type", "subject_id", "kind", "level", "due_at", "state", "attempts", "created_at"],
        sa.select(sa.bindparam("subject_type", type_=sa.String), digits, due.c.kind, due.c.level, due.c.due_at,
                  sa.literal_column("'pending'"), sa.literal_column("0"),
                  sa.bindparam("created_at", type_=_M.c.created_at.type)).select_from(n).join(due, sa.true()),
        include_defaults=False,
    ).cte("m")
    stmt = sa.select(event.c.ticket_id, event.c.id).add_cte(ticket, timers)
    _STATEMENTS[key] = stmt
    return stmt


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
                *, number_head: str, subject_type: str) -> bool:
    """Insert ``ticket`` (numbered ``number_head`` + its id on at least six digits), ``event``
    and the ticket's ``timers`` (kind, level, due; subject ``subject_type``) in one statement;
    False (nothing done) when the database is not PostgreSQL."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    ticket_values, event_values = _values(ticket, _TICKET_COLUMNS, "t_"), _values(event, _EVENT_COLUMNS, "e_")
    stmt = _statement(tuple(k[2:] for k in ticket_values), tuple(k[2:] for k in event_values))
    ticket_id, event_id = session.execute(stmt, {
        **ticket_values, **event_values, "number_head": number_head, "subject_type": subject_type,
        "created_at": utcnow(),
        "timers": [{"kind": k, "level": level, "due_at": due.isoformat()} for k, level, due in timers],
    }).one()
    ticket.id, ticket.number = ticket_id, f"{number_head}{ticket_id:06d}"
    event.id, event.ticket_id = event_id, ticket_id
    _attach(session, ticket)
    _attach(session, event)
    return True


_TELL: list[Any] = []


def _tell_statement() -> Any:
    """Members of ``:org_id`` with one of ``:roles`` (active, with an active account; the
    organisation itself when there are none) → outbox rows → their delivery timers."""
    if _TELL:
        return _TELL[0]
    o, m = OutboxMessage.__table__, _M
    staff = (sa.select(Membership.account_id)
             .join(Account, Account.id == Membership.account_id)
             .where(Membership.organisation_id == sa.bindparam("org_id"),
                    Membership.role.in_(sa.bindparam("roles", expanding=True)),
                    Membership.status == "active", Account.status == "active")).cte("staff")
    org_id = sa.bindparam("org_id", type_=sa.BigInteger)
    recipients = sa.union_all(
        sa.select(sa.literal("account").label("kind"), sa.cast(staff.c.account_id, sa.String).label("rid"),
                  staff.c.account_id.label("rank")),
        sa.select(sa.literal("org"), sa.cast(org_id, sa.String), org_id)
        .where(~sa.exists(sa.select(staff.c.account_id))),
    ).cte("recipients")
    now = sa.bindparam("now", type_=o.c.created_at.type)
    outbox = (postgresql.insert(o).from_select(
        ["event_key", "recipient_kind", "recipient_id", "channel", "template", "payload", "urgent", "state",
         "attempts", "created_at", "updated_at"],
        sa.select(sa.bindparam("event_key", type_=sa.String), recipients.c.kind, recipients.c.rid,
                  sa.bindparam("channel", type_=sa.String), sa.bindparam("template", type_=sa.String),
                  sa.bindparam("payload", type_=o.c.payload.type), sa.false(), sa.literal("pending"),
                  sa.literal(0), now, now).order_by(recipients.c.rank))  # ids in recipient order, as enqueue
              .on_conflict_do_nothing().returning(o.c.id).cte("outbox"))
    timers = postgresql.insert(m).from_select(
        ["subject_type", "subject_id", "kind", "level", "due_at", "state", "attempts", "created_at"],
        sa.select(sa.literal("outbox"), sa.cast(outbox.c.id, sa.String), sa.literal(DELIVER_KIND), sa.literal(0),
                  now, sa.literal("pending"), sa.literal(0), now))
    timers = timers.on_conflict_do_update(index_elements=list(KEY_COLUMNS), set_={
        "due_at": timers.excluded.due_at, "state": "pending", "attempts": 0, "last_error": None, "fired_at": None})
    _TELL.append(timers.add_cte(staff, recipients, outbox))
    return _TELL[0]


def tell_org_staff(session: Session, clock: Clock, ticket: Ticket, *, key: str, template: str,
                   roles: tuple[str, ...], config: WorkflowConfig) -> bool:
    """``notify.tell(…, recipients=notify.org_staff(session, ticket.org_id, roles))`` (not urgent)
    in one statement; False (nothing done) when the database is not PostgreSQL."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    if config.notify_channel not in CHANNELS:
        raise ValueError(f"unknown channel {config.notify_channel!r}")
    body = notify.payload(ticket, ticket_no=ticket.number, title=config.title_zh, at=clock.now().isoformat(),
                          note=notify.NOTES.get(template, "工单有新进展"))
    session.execute(_tell_statement(), {
        "org_id": ticket.org_id, "roles": list(roles), "event_key": f"wf:{ticket.id}:{key}",
        "channel": config.notify_channel, "template": config.template_name(template), "payload": body,
        "now": clock.now()})
    return True
