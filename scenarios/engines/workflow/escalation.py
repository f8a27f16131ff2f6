"""Timer handlers of the workflow engine, run by the worker in its claiming transaction.

``workflow.response`` (levels 1 and 2, created with the ticket): level 1 at the response
target tells the owning organisation's managers; level 2 at twice the target tells the
supervisors of the organisation that supervises it (区房管局 for property companies) and of
the organisation that dispatched it (区城运中心 for city reports), and the managers again. Each
timer row fires once (the worker's claim). The handler locks, re-checks and changes the
ticket in one conditional ``UPDATE … RETURNING`` (the row lock of a ``SELECT … FOR
UPDATE`` and the state check, in one round trip: the worker runs thousands of these per
pass): an acknowledgement that committed first wins and the escalation does nothing, while
one that waited behind the escalation finds it and is recorded late.

``workflow.resolution`` (level 1) marks the resolution target missed and tells the managers.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.timers import Timer, timer_handler
from scenarios.engines.workflow import notifications as notify
from scenarios.engines.workflow.config import WorkflowConfig, config_for
from scenarios.engines.workflow.models import OPEN_STATUSES, RESPONSE_PENDING, Ticket, TicketEvent
from scenarios.engines.workflow.service import RESOLUTION_KIND, RESPONSE_KIND

log = logging.getLogger("workflow.escalation")

FALLBACK = {"manager_roles": ("manager", "admin"), "supervisor_roles": ("supervisor",)}


def _roles(config: WorkflowConfig | None, name: str) -> tuple[str, ...]:
    return getattr(config, name) if config is not None else FALLBACK[name]


@dataclass(frozen=True)
class Escalated:
    """What the handler needs of a ticket it changed (from ``UPDATE … RETURNING``)."""

    id: int
    org_id: int
    dispatch_org_id: int | None
    number: str | None
    scenario: str
    status: str
    reopen_count: int


_T = Ticket.__table__
_RETURNING = (_T.c.id, _T.c.org_id, _T.c.dispatch_org_id, _T.c.number, _T.c.scenario, _T.c.status, _T.c.reopen_count)

# Built once: the worker runs thousands of these per pass, and building a statement costs
# more Python time than the database spends on it.
_ESCALATE = (
    sa.update(_T)
    .where(_T.c.id == sa.bindparam("tid"), _T.c.status.in_(RESPONSE_PENDING), _T.c.paused_at.is_(None),
           _T.c.escalation_level < sa.bindparam("below"))
    .values(escalation_level=sa.bindparam("new_level"), version=_T.c.version + 1,
            updated_at=sa.bindparam("now"),
            response_breached=sa.case((_T.c.first_response_at.is_(None), sa.true()), else_=_T.c.response_breached))
    .returning(*_RETURNING)
)
_RESOLUTION_MISSED = (
    sa.update(_T)
    .where(_T.c.id == sa.bindparam("tid"), _T.c.status.in_(OPEN_STATUSES), _T.c.paused_at.is_(None),
           _T.c.resolution_breached.is_(False))
    .values(resolution_breached=True, version=_T.c.version + 1, updated_at=sa.bindparam("now"))
    .returning(*_RETURNING)
)
_E = TicketEvent.__table__
_SYSTEM_EVENT = sa.insert(_E).values(ticket_id=sa.bindparam("tid"), at=sa.bindparam("now"), actor_kind="system",
                                     action=sa.bindparam("action"), data=sa.bindparam("data"))


def _recipients(session: Session, key: tuple, find) -> list[notify.Recipient]:
    """Recipients cached for the worker's batch transaction (the session lives one batch)."""
    cache = session.info.setdefault("wf_recipients", {})
    if key not in cache:
        cache[key] = find()
    return cache[key]


def _event(session: Session, ticket_id: int, action: str, now, data: dict) -> None:
    session.execute(_SYSTEM_EVENT, {"tid": ticket_id, "now": now, "action": action, "data": data})


@timer_handler(RESPONSE_KIND)
def response_overdue(session: Session, timer: Timer, clock: Clock) -> None:
    """One conditional UPDATE locks the ticket, re-checks it and escalates it: a ticket answered
    (or paused) before this transaction got its row lock no longer matches, and nothing happens."""
    level = timer.level
    now = clock.now()
    row = session.execute(_ESCALATE, {"tid": int(timer.subject_id), "below": level, "new_level": level,
                                      "now": now}).first()
    if row is None:
        return
    ticket = Escalated(*row)
    config = config_for(ticket.scenario)
    _event(session, ticket.id, "escalate", now, {"level": level, "cycle": ticket.reopen_count})
    managers = _roles(config, "manager_roles")
    recipients = _recipients(session, ("staff", ticket.org_id, managers),
                             lambda: notify.org_staff(session, ticket.org_id, managers))
    if level >= 2:
        supervisor_roles = _roles(config, "supervisor_roles")
        recipients = _recipients(session, ("supervisors", ticket.org_id, supervisor_roles),
                                 lambda: notify.supervisors(session, ticket.org_id, supervisor_roles)) + recipients
        dispatcher = ticket.dispatch_org_id
        if dispatcher is not None and dispatcher != ticket.org_id:
            recipients = _recipients(session, ("staff", dispatcher, supervisor_roles),
                                     lambda: notify.org_staff(session, dispatcher, supervisor_roles)) + recipients
    notify.tell(session, clock, ticket, key=f"esc:{ticket.reopen_count}:{level}", template="wf.escalated",
                recipients=recipients, config=config, urgent=True, level=level)
    log.info("ticket escalated", extra={"ticket_id": ticket.id, "escalation_level": level,
                                      "scenario": ticket.scenario})


@timer_handler(RESOLUTION_KIND)
def resolution_overdue(session: Session, timer: Timer, clock: Clock) -> None:
    now = clock.now()
    row = session.execute(_RESOLUTION_MISSED, {"tid": int(timer.subject_id), "now": now}).first()
    if row is None:
        return
    ticket = Escalated(*row)
    config = config_for(ticket.scenario)
    _event(session, ticket.id, "resolution_overdue", now, {"cycle": ticket.reopen_count})
    managers = _roles(config, "manager_roles")
    notify.tell(session, clock, ticket, key=f"resolution_overdue:{ticket.reopen_count}",
                template="wf.resolution_overdue",
                recipients=_recipients(session, ("staff", ticket.org_id, managers),
                                       lambda: notify.org_staff(session, ticket.org_id, managers)),
                config=config, urgent=True)
