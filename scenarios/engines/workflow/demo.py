"""What demo data of every workflow scenario needs: tickets made at past times catch up
with the escalations a worker would have fired by then, through the worker's own code."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.clock import Clock
from app.worker import fire_due as fire_subject_due
from scenarios.engines.workflow.models import SUBJECT, Ticket


def fire_due(session: Session, ticket: Ticket, clock: Clock) -> int:
    """Fire the ticket's timers due by ``clock`` (escalations), as the worker would have."""
    return fire_subject_due(session, clock, subject_type=SUBJECT, subject_id=ticket.id)
