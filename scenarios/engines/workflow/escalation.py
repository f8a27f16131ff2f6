"""Timer handlers of the workflow engine, run by the worker in its claiming transaction.

``workflow.response`` (levels 1 and 2, created with the ticket): level 1 at the response
target tells the owning organisation's managers; level 2 at twice the target tells the
supervisors of the organisation that supervises it (区房管局 for property companies), and
the managers again. Each timer row fires once (the worker's claim); the handler locks the
ticket and re-checks its state, so an acknowledgement that committed first wins and the
escalation does nothing, while one that waited behind the escalation is recorded late.

``workflow.resolution`` (level 1) marks the resolution target missed and tells the managers.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.timers import Timer, timer_handler
from scenarios.engines.workflow import notifications as notify
from scenarios.engines.workflow.config import WorkflowConfig, config_for
from scenarios.engines.workflow.models import OPEN_STATUSES, RESPONSE_PENDING, Ticket
from scenarios.engines.workflow.service import RESOLUTION_KIND, RESPONSE_KIND, add_event

log = logging.getLogger("workflow.escalation")

FALLBACK = {"manager_roles": ("manager", "admin"), "supervisor_roles": ("supervisor",)}


def _roles(config: WorkflowConfig | None, name: str) -> tuple[str, ...]:
    return getattr(config, name) if config is not None else FALLBACK[name]


def _lock(session: Session, ticket_id: int) -> Ticket | None:
    return session.scalars(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update(),
                           execution_options={"populate_existing": True}).one_or_none()


@timer_handler(RESPONSE_KIND)
def response_overdue(session: Session, timer: Timer, clock: Clock) -> None:
    ticket = _lock(session, int(timer.subject_id))
    if ticket is None or ticket.status not in RESPONSE_PENDING or ticket.paused_at is not None:
        return  # answered (or paused) before the deadline: nothing to escalate
    level = timer.level
    if ticket.escalation_level >= level:
        return
    config = config_for(ticket.scenario)
    now = clock.now()
    ticket.escalation_level = level
    if ticket.first_response_at is None:
        ticket.response_breached = True
    ticket.version += 1
    ticket.updated_at = now
    add_event(session, ticket, None, "escalate", at=now, data={"level": level, "cycle": ticket.reopen_count})
    recipients = notify.org_staff(session, ticket.org_id, _roles(config, "manager_roles"))
    if level >= 2:
        recipients = notify.supervisors(session, ticket.org_id, _roles(config, "supervisor_roles")) + recipients
    notify.tell(session, clock, ticket, key=f"esc:{ticket.reopen_count}:{level}", template="wf.escalated",
                recipients=recipients, level=level)
    log.info("ticket escalated", extra={"ticket_id": ticket.id, "level": level, "scenario": ticket.scenario})


@timer_handler(RESOLUTION_KIND)
def resolution_overdue(session: Session, timer: Timer, clock: Clock) -> None:
    ticket = _lock(session, int(timer.subject_id))
    if (ticket is None or ticket.status not in OPEN_STATUSES or ticket.paused_at is not None
            or ticket.resolution_breached):
        return
    config = config_for(ticket.scenario)
    now = clock.now()
    ticket.resolution_breached = True
    ticket.version += 1
    ticket.updated_at = now
    add_event(session, ticket, None, "resolution_overdue", at=now, data={"cycle": ticket.reopen_count})
    notify.tell(session, clock, ticket, key=f"resolution_overdue:{ticket.reopen_count}",
                template="wf.resolution_overdue",
                recipients=notify.org_staff(session, ticket.org_id, _roles(config, "manager_roles")))
