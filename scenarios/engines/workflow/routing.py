"""Tickets that move between organisations.

- **Routing** (``route_ticket``): a scenario's ``route`` hook names where a new ticket goes
  (区城运中心 → the bureau or town responsible; 区交通委 → the road's chief). It runs once: when
  the ticket is filed, or — for a moderated scenario — when its content is cleared. It leaves
  a system event ``route`` naming both organisations.
- **Transfer** (``transfer``): staff of the dispatching organisation, or the owner's
  dispatchers, move a ticket not yet assigned to another organisation of
  ``config.transfer_org_types`` (event ``transfer``).
- Either way the new owner starts afresh: the ticket is ``submitted``, the assignee is the
  routing's (or nobody), and the **response clock restarts** (due one response target from
  now, escalation level 0, timers re-armed): each organisation answers within its own
  target. The resolution clock keeps running: the reporter's wait counts from the report.
  The new owner's managers (and the assignee) are told (``notifications.tell_new_owner``; for
  a new ticket, by the filing's notices).
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.workflow import notifications, sla, trail
from scenarios.engines.workflow.access import locked
from scenarios.engines.workflow.changes import perform
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import Ticket, TicketEvent

MOVES = ("route", "transfer")


@dataclass(frozen=True)
class Routed:
    """A routing that changed the ticket: its ``route`` event, whether the owner changed, and the
    new owner (kept in hand: the session's identity map is weak, and the answer's access check
    would read it again)."""

    event: TicketEvent
    moved: bool
    org: Organisation | None = None


def _move(session: Session, ticket: Ticket, *, org: Organisation, assignee_account_id: int | None,
          now) -> bool:
    """Give the ticket to ``org`` (and the assignee); a new owner gets a fresh response clock."""
    moved = org.id != ticket.org_id
    ticket.org_id = org.id
    ticket.assignee_account_id = assignee_account_id
    if moved:
        sla.restart_response(session, ticket, now)
    return moved


def route_ticket(session: Session, *, clock: Clock, config: WorkflowConfig, ticket: Ticket) -> Routed | None:
    """Ask the scenario where the ticket goes and send it there (a system ``route`` event).
    Nobody is told here: the caller tells the new owner (``notifications``)."""
    if config.route is None:
        return None
    routing = config.route(session, clock=clock, ticket=ticket)
    if routing is None or (routing.org.id == ticket.org_id and routing.assignee_account_id in
                           (None, ticket.assignee_account_id)):
        return None
    now = clock.now()
    source = session.get(Organisation, ticket.org_id)
    moved = _move(session, ticket, org=routing.org, assignee_account_id=routing.assignee_account_id, now=now)
    trail.touch(ticket, now)
    event = trail.add_event(session, ticket, None, "route", at=now, from_status=ticket.status,
                            to_status=ticket.status, note=routing.reason,
                            data={"from_org": source.code, "to_org": routing.org.code,
                                  "assignee_account_id": routing.assignee_account_id})
    return Routed(event, moved, routing.org)


def was_moved(session: Session, ticket: Ticket) -> bool:
    return session.scalar(sa.select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.action.in_(MOVES)).limit(1)) is not None


def transfer(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
             org: str, note: str | None = None, expected_version: int | None = None) -> Ticket:
    """Move a ticket to another organisation (``config.transfer_org_types``), back to ``submitted``."""
    if "transfer" not in config.table:
        raise ApiError("not_found")
    ticket, access = locked(session, principal, config, ticket_id)
    note = config.check_text(note, "note", required=False)
    target = session.scalar(sa.select(Organisation).where(Organisation.code == org,
                                                          Organisation.active.is_(True)))
    source = session.get(Organisation, ticket.org_id)

    def check(t: Ticket, now) -> None:
        if t.moderation_state == "pending":
            raise ApiError("content_pending_review")
        if target is None or target.type not in config.transfer_org_types:
            raise ApiError("transfer_target_invalid", errors={"org": ["没有这个可受理的单位（委办局或镇、街道）。"]})
        if target.id == t.org_id:
            raise ApiError("transfer_target_invalid", errors={"org": ["工单已在该单位。"]})

    def apply(t: Ticket, now) -> None:
        _move(session, t, org=target, assignee_account_id=None, now=now)

    def after(t: Ticket, event: TicketEvent, now) -> None:
        notifications.tell_new_owner(session, clock, config, t, event, True)

    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
            action="transfer", note=note, expected_version=expected_version, check=check, apply=apply,
            after=after, data={"from_org": source.code, "to_org": org})
    return ticket


def transfer_targets(session: Session, config: WorkflowConfig) -> list[Organisation]:
    """The organisations a ticket of the scenario may be transferred to (``transfer``'s own rule:
    active, of ``config.transfer_org_types``), by name: the console's choice of a new owner."""
    if not config.transfer_org_types:
        return []
    return list(session.scalars(sa.select(Organisation).where(
        Organisation.type.in_(config.transfer_org_types), Organisation.active.is_(True)).order_by(
        Organisation.type, Organisation.code)))
