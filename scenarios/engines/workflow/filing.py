"""Writing a new ticket: the ticket numbered from its id, its ``create`` event and its SLA
timers. The plain path goes through the ORM (four statements); on PostgreSQL
``fastpath.file_ticket`` does the same in one."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.db import fast_paths_apply
from app.timers import schedule_many
from scenarios.engines.workflow import fastpath
from scenarios.engines.workflow.models import SUBJECT, Ticket, TicketEvent
from scenarios.engines.workflow.sla import Due


def file(session: Session, ticket: Ticket, event: TicketEvent, timers: list[Due], *, number_head: str) -> None:
    """Insert ``ticket`` (numbered ``number_head`` + its id on at least six digits), ``event``
    and the ticket's ``timers``."""
    if fast_paths_apply(session):
        fastpath.file_ticket(session, ticket, event, timers, number_head=number_head, subject_type=SUBJECT)
        return
    session.add(ticket)
    session.flush()
    ticket.number = f"{number_head}{ticket.id:06d}"
    event.ticket_id = ticket.id
    session.add(event)
    session.flush()
    schedule_many(session, subject_type=SUBJECT, subject_id=ticket.id, timers=timers)
