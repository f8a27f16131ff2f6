"""Writing a new ticket: the ticket with a random number (``numbers``), its ``create`` event
and its SLA timers. The plain path goes through the ORM (four statements); on PostgreSQL
``fastpath.file_ticket`` does the same in one."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import fast_paths_apply
from app.timers import schedule_many
from scenarios.engines.workflow import fastpath, numbers
from scenarios.engines.workflow.models import SUBJECT, Ticket, TicketEvent
from scenarios.engines.workflow.sla import Due


def file(session: Session, ticket: Ticket, event: TicketEvent, timers: list[Due], *, number_head: str) -> None:
    """Insert ``ticket`` (numbered ``number_head`` + a random block, retried while taken),
    ``event`` and the ticket's ``timers``."""
    if fast_paths_apply(session):
        fastpath.file_ticket(session, ticket, event, timers, number_head=number_head, subject_type=SUBJECT)
        return
    _insert_numbered(session, ticket, number_head)
    event.ticket_id = ticket.id
    session.add(event)
    session.flush()
    schedule_many(session, subject_type=SUBJECT, subject_id=ticket.id, timers=timers)


def _insert_numbered(session: Session, ticket: Ticket, number_head: str) -> None:
    """INSERT the ticket under a fresh number, in a savepoint so a taken number (a concurrent
    filer's, or an old one's) is retried with another instead of failing the filing."""
    for _ in range(numbers.MAX_ATTEMPTS):
        ticket.number = numbers.new_number(number_head)
        try:
            with session.begin_nested():
                session.add(ticket)
                session.flush()
            return
        except IntegrityError:
            if session.scalar(sa.select(Ticket.id).where(Ticket.number == ticket.number)) is None:
                raise  # another constraint: not ours to retry
    raise numbers.NumberExhausted(number_head)
