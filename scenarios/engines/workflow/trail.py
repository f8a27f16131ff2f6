"""A ticket's trail (``wf_ticket_events``) and the columns every change keeps current."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from auth.principal import Principal
from scenarios.engines.workflow.models import OPEN_STATUSES, RESPONSE_PENDING, Ticket, TicketEvent


def new_event(ticket: Ticket, principal: Principal | None, action: str, *, at: datetime,
              from_status: str | None = None, to_status: str | None = None, note: str | None = None,
              data: dict[str, Any] | None = None, internal: bool = False) -> TicketEvent:
    """An event of ``ticket`` (not added to the session); ``internal``: for staff only."""
    kind = principal.kind if principal is not None and principal.kind in ("resident", "staff") else "system"
    return TicketEvent(
        ticket_id=ticket.id, at=at, actor_kind=kind,
        actor_account_id=principal.account_id if principal is not None else None,
        actor_org_id=principal.org_id if principal is not None and principal.is_staff else None,
        action=action, from_status=from_status, to_status=to_status, note=note, data=data or {},
        internal=internal,
    )


def add_event(session: Session, ticket: Ticket, principal: Principal | None, action: str, *, at: datetime,
              from_status: str | None = None, to_status: str | None = None, note: str | None = None,
              data: dict[str, Any] | None = None, internal: bool = False) -> TicketEvent:
    event = new_event(ticket, principal, action, at=at, from_status=from_status, to_status=to_status, note=note,
                      data=data, internal=internal)
    session.add(event)
    session.flush()
    return event


def touch(ticket: Ticket, now: datetime) -> None:
    """Derived columns after any change: open flag, the deadline that matters, version."""
    ticket.is_open = ticket.status in OPEN_STATUSES
    if not ticket.is_open or ticket.paused_at is not None:
        ticket.due_at = None
    elif ticket.status in RESPONSE_PENDING:
        ticket.due_at = ticket.response_due_at
    else:
        ticket.due_at = ticket.resolution_due_at
    ticket.version += 1
    ticket.updated_at = now
