"""Who is told what about a ticket, through the outbox (in the transaction of the change).

Payloads carry ticket ids, numbers and states only: no names, phones or text.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.notify.service import Recipient, enqueue
from auth.models import Account, Membership
from auth.organisations import Organisation
from scenarios.engines.workflow.models import Ticket


def members_with(session: Session, org_id: int, roles: Iterable[str]) -> list[int]:
    """Active accounts holding one of ``roles`` in the organisation (ordered by id)."""
    return list(session.scalars(
        sa.select(Membership.account_id)
        .join(Account, Account.id == Membership.account_id)
        .where(Membership.organisation_id == org_id, Membership.role.in_(tuple(roles)),
               Membership.status == "active", Account.status == "active")
        .order_by(Membership.account_id)))


def org_staff(session: Session, org_id: int, roles: Iterable[str]) -> list[Recipient]:
    """The members with ``roles``; the organisation itself when it has none (nobody is lost)."""
    ids = members_with(session, org_id, roles)
    return [Recipient.account(i) for i in ids] if ids else [Recipient("org", org_id)]


def supervisors(session: Session, org_id: int, roles: Iterable[str]) -> list[Recipient]:
    """Members with ``roles`` of the organisation supervising ``org_id`` (区房管局 for companies)."""
    org = session.get(Organisation, org_id)
    if org is None or org.supervisor_id is None:
        return []
    return org_staff(session, org.supervisor_id, roles)


class TicketLike(Protocol):
    id: int
    number: str | None
    scenario: str
    status: str


def payload(ticket: TicketLike, **extra: Any) -> dict[str, Any]:
    return {"ticket_id": ticket.id, "number": ticket.number, "scenario": ticket.scenario,
            "status": ticket.status, **extra}


def tell(session: Session, clock: Clock, ticket: TicketLike, *, key: str, template: str,
         recipients: Iterable[Recipient], channel: str = "log", urgent: bool = False, **extra: Any) -> int:
    """One outbox row per recipient, keyed ``wf:<ticket>:<key>`` (so a repeat is a no-op)."""
    recipients = list(recipients)
    if not recipients:
        return 0
    return enqueue(session, event_key=f"wf:{ticket.id}:{key}", template=template, recipients=recipients,
                   clock=clock, payload=payload(ticket, **extra), channel=channel, urgent=urgent)


def reporter(ticket: Ticket) -> list[Recipient]:
    return [Recipient.account(ticket.reporter_account_id)] if ticket.reporter_account_id else []
