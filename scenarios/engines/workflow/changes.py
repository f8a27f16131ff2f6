"""One change of a locked ticket, as every transition makes it: 403 → 412 → 409 → the
action's own checks, then the clock, the state, the trail and the notices.

The order, written once: may the caller (``access.actors`` against the transition table) →
is the ticket at the version they saw → is the action legal from its state → the action's
``check`` → the SLA clock (respond, pause, resume) → the new state and the action's ``apply``
→ every clock stops on a final state → the derived columns → the event → the action's
``after`` → who is told.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.principal import Principal
from scenarios.engines.workflow import notifications, sla, trail
from scenarios.engines.workflow.access import Access, check_version, invalid
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import FINAL_STATUSES, RESPONSE_PENDING, Ticket, TicketEvent
from scenarios.engines.workflow.transitions import Transition

Check = Callable[[Ticket, datetime], None]
Apply = Callable[[Ticket, datetime], None]
After = Callable[[Ticket, TicketEvent, datetime], None]


def perform(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket: Ticket,
            access: Access, action: str, note: str | None = None, expected_version: int | None = None,
            check: Check | None = None, apply: Apply | None = None, after: After | None = None,
            data: dict[str, Any] | None = None) -> TicketEvent:
    """Make ``action`` on a locked ticket (see the module docstring); returns its event."""
    tr: Transition = config.table[action]
    if not access.actors & tr.actors:
        raise ApiError("forbidden")
    check_version(ticket, expected_version)
    if ticket.status not in tr.sources:
        raise invalid(ticket, action)
    now = clock.now()
    if check is not None:
        check(ticket, now)
    guard = config.guards.get(action) if config.guards else None
    if guard is not None:
        guard(session, ticket)
    from_status = ticket.status
    target = tr.target or ticket.paused_from_status or "acknowledged"
    data = dict(data or {})
    if tr.responds and from_status in RESPONSE_PENDING:
        data["late"] = sla.respond(session, ticket, now)
    if tr.pauses:
        sla.pause(session, ticket, now)
    if tr.resumes:
        sla.resume(session, ticket, now)
    ticket.status = target
    if apply is not None:
        apply(ticket, now)
    if target in FINAL_STATUSES or target == "resolved":
        sla.cancel(session, ticket)  # every clock stops
    if target == "closed":
        ticket.closed_at = now
    trail.touch(ticket, now)
    event = trail.add_event(session, ticket, principal, action, at=now, from_status=from_status, to_status=target,
                            note=note, data=data)
    if after is not None:
        after(ticket, event, now)
    notifications.announce(session, clock, config, ticket, event)
    session.flush()
    return event
