"""Who is told what about a ticket, through the outbox (in the transaction of the change).

- A new ticket (``tell_filed``): the owning organisation's managers; when the scenario routed
  it elsewhere, the new owner's managers and the assignee too.
- A transition (``announce``): the reporter, the assignee or the handlers, as ``TOLD`` says.
- A move to another organisation (``tell_new_owner``): its managers and the assignee.
- An appointment (``tell_appointment``): the reporter, with the time (``appointment_at``).
- An internal event (a staff note for staff only) is never told to the reporter.
- Escalations and missed resolutions: escalation.py (with ``notice``, many at once).

Payloads carry ticket ids, numbers, states, the scenario's title, the time and a fixed
phrase of what happened: no names, phones or free text. On a delivering channel (WeChat,
SMS) the engine's names become the template registry's (``REGISTRY_NAMES``; a scenario may
name others in ``WorkflowConfig.notify_templates``), whose fields these payload keys fill.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import fast_paths_apply
from app.notify.service import Notice, Recipient, enqueue_many
from auth.models import Account, Membership
from auth.organisations import Organisation
from scenarios.engines.workflow.models import Ticket, TicketEvent

if TYPE_CHECKING:
    from scenarios.engines.workflow.config import WorkflowConfig

# The engine's notification names → templates of app/notify/templates.json.
REGISTRY_NAMES: dict[str, str] = {
    "wf.ticket_created": "ticket_received",
    "wf.ticket_acknowledged": "ticket_acknowledged",
    "wf.ticket_assigned": "ticket_assigned",
    "wf.info_requested": "ticket_info_requested",
    "wf.info_provided": "ticket_info_provided",
    "wf.ticket_resolved": "ticket_resolved",
    "wf.ticket_rejected": "ticket_rejected",
    "wf.ticket_duplicate": "ticket_duplicate",
    "wf.ticket_reopened": "ticket_reopened",
    "wf.escalated": "ticket_escalated",
    "wf.resolution_overdue": "ticket_resolution_overdue",
    "wf.content_rejected": "content_rejected",
    "wf.appointment_set": "ticket_appointment",
}

# What happened, in a few words (a WeChat ``thing`` holds 20 characters).
NOTES: dict[str, str] = {
    "wf.ticket_created": "有新的工单待处理",
    "wf.ticket_acknowledged": "您反映的问题已受理",
    "wf.ticket_assigned": "工单已派给处理人员",
    "wf.info_requested": "处理人员需要您补充信息",
    "wf.info_provided": "报告人已补充信息",
    "wf.ticket_resolved": "您反映的问题已处理完毕",
    "wf.ticket_rejected": "工单未予受理",
    "wf.ticket_duplicate": "已并入相同问题的工单",
    "wf.ticket_reopened": "报告人重新打开了工单",
    "wf.escalated": "工单响应超时，请尽快处理",
    "wf.resolution_overdue": "工单处理超时",
    "wf.content_rejected": "内容未通过审核",
    "wf.appointment_set": "已约定上门时间",
}


def _members(org_id: int | sa.BindParameter[int], roles: Iterable[str] | sa.BindParameter[Any]) -> sa.Select:
    """Active accounts holding one of ``roles`` in the organisation; either may be a bound
    parameter (``roles`` an expanding one), for a statement built once."""
    roles = roles if isinstance(roles, sa.BindParameter) else tuple(roles)
    return (sa.select(Membership.account_id)
            .join(Account, Account.id == Membership.account_id)
            .where(Membership.organisation_id == org_id, Membership.role.in_(roles),
                   Membership.status == "active", Account.status == "active"))


def members_with(session: Session, org_id: int, roles: Iterable[str]) -> list[int]:
    """Active accounts holding one of ``roles`` in the organisation (ordered by id)."""
    return list(session.scalars(_members(org_id, roles).order_by(Membership.account_id)))


def staff_recipients(org_id: sa.BindParameter[int], roles: sa.BindParameter[Any]) -> sa.Subquery:
    """``org_staff`` as a query (for ``app.fastpath.enqueue_to_query``): the members'
    accounts, else the organisation itself; columns ``kind``, ``id`` (text), ``rank``."""
    staff = _members(org_id, roles).cte("staff")
    return sa.union_all(
        sa.select(sa.literal("account").label("kind"), sa.cast(staff.c.account_id, sa.String).label("id"),
                  staff.c.account_id.label("rank")),
        sa.select(sa.literal("org"), sa.cast(org_id, sa.String), org_id)
        .where(~sa.exists(sa.select(staff.c.account_id))),
    ).subquery("recipients")


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
         recipients: Iterable[Recipient], config: WorkflowConfig | None = None, urgent: bool = False,
         **extra: Any) -> int:
    """One outbox row per recipient, keyed ``wf:<ticket>:<key>`` (so a repeat is a no-op), on
    the scenario's channel, under the registry's name of ``template``."""
    found = notice(clock, ticket, key=key, template=template, recipients=recipients, config=config,
                   urgent=urgent, **extra)
    return enqueue_many(session, [found], clock=clock) if found is not None else 0


def notice(clock: Clock, ticket: TicketLike, *, key: str, template: str, recipients: Iterable[Recipient],
           config: WorkflowConfig | None = None, urgent: bool = False, **extra: Any) -> Notice | None:
    """What ``tell`` enqueues, for enqueueing many tickets' notices at once; None when nobody is told."""
    recipients = tuple(recipients)
    if not recipients:
        return None
    return replace(envelope(clock, ticket, key=key, template=template, config=config, urgent=urgent, **extra),
                   recipients=recipients)


def envelope(clock: Clock, ticket: TicketLike, *, key: str, template: str, config: WorkflowConfig | None = None,
             urgent: bool = False, **extra: Any) -> Notice:
    """The notice of ``key`` about ``ticket`` before its recipients are known: its event key,
    the registry's name of ``template``, the scenario's channel and the payload."""
    channel = config.notify_channel if config is not None else "log"
    name = config.template_name(template) if config is not None else template
    body = payload(ticket, ticket_no=ticket.number, title=f"{config.title_zh if config else '工单'}",
                   at=clock.now().isoformat(), note=NOTES.get(template, "工单有新进展"), **extra)
    return Notice(f"wf:{ticket.id}:{key}", name, (), body, channel, urgent)


def reporter(ticket: Ticket) -> list[Recipient]:
    return [Recipient.account(ticket.reporter_account_id)] if ticket.reporter_account_id else []


def tell_org(session: Session, clock: Clock, ticket: Ticket, *, org_id: int, key: str, template: str,
             roles: tuple[str, ...], config: WorkflowConfig, urgent: bool = False, **extra: Any) -> None:
    """``tell`` the members of ``org_id`` holding ``roles`` (the organisation itself when it has
    none); on PostgreSQL in one statement (``fastpath.tell_org_staff``) when nothing extra is
    in the payload."""
    if fast_paths_apply(session) and not extra:
        from scenarios.engines.workflow import fastpath

        fastpath.tell_org_staff(session, clock, ticket, org_id=org_id, key=key, template=template, roles=roles,
                                config=config, urgent=urgent)
        return
    tell(session, clock, ticket, key=key, template=template, recipients=org_staff(session, org_id, roles),
         config=config, urgent=urgent, **extra)


def tell_new_owner(session: Session, clock: Clock, config: WorkflowConfig, ticket: Ticket, event: TicketEvent,
                   moved: bool) -> None:
    """After a routing or transfer: the new owner's managers (when it moved) and the assignee."""
    if moved:
        tell_org(session, clock, ticket, org_id=ticket.org_id, key=f"ev:{event.id}:org",
                 template="wf.ticket_created", roles=config.manager_roles, config=config,
                 urgent=config.urgent_new_tickets, action=event.action)
    if ticket.assignee_account_id:
        tell(session, clock, ticket, key=f"ev:{event.id}", template="wf.ticket_assigned",
             recipients=[Recipient.account(ticket.assignee_account_id)], config=config, action=event.action)


def tell_filed(session: Session, clock: Clock, config: WorkflowConfig, ticket: Ticket, *, filed_org_id: int,
               routed: TicketEvent | None = None, moved: bool = False) -> None:
    """A new ticket: the managers of the organisation it was filed with, then, when the scenario
    routed it on (``routed``), the new owner."""
    tell_org(session, clock, ticket, org_id=filed_org_id, key="created", template="wf.ticket_created",
             roles=config.manager_roles, config=config, urgent=config.urgent_new_tickets)
    if routed is not None:
        tell_new_owner(session, clock, config, ticket, routed, moved)


def tell_appointment(session: Session, clock: Clock, config: WorkflowConfig, ticket: Ticket,
                     event: TicketEvent) -> None:
    """The reporter: when staff will call (``appointment_at`` in the payload; no names, no phones)."""
    if event.internal or ticket.appointment_at is None:
        return
    tell(session, clock, ticket, key=f"ev:{event.id}:appointment", template="wf.appointment_set",
         recipients=reporter(ticket), config=config, action=event.action,
         appointment_at=ticket.appointment_at.isoformat())


# Who hears of which transition (beyond escalations and new tickets).
TOLD: dict[str, tuple[str, str]] = {
    "acknowledge": ("wf.ticket_acknowledged", "reporter"),
    "assign": ("wf.ticket_assigned", "reporter+assignee"),
    "request_info": ("wf.info_requested", "reporter"),
    "provide_info": ("wf.info_provided", "handlers"),
    "resolve": ("wf.ticket_resolved", "reporter"),
    "reject": ("wf.ticket_rejected", "reporter"),
    "mark_duplicate": ("wf.ticket_duplicate", "reporter"),
    "reopen": ("wf.ticket_reopened", "handlers"),
}


def announce(session: Session, clock: Clock, config: WorkflowConfig, ticket: Ticket, event: TicketEvent) -> None:
    """Tell whoever ``TOLD`` names of a transition (never the reporter of an internal event)."""
    told = TOLD.get(event.action)
    if told is None:
        return
    template, who = told
    recipients = []
    if "reporter" in who and not event.internal:
        recipients += reporter(ticket)
    if "assignee" in who and ticket.assignee_account_id:
        recipients.append(Recipient.account(ticket.assignee_account_id))
    if who == "handlers":
        recipients = ([Recipient.account(ticket.assignee_account_id)] if ticket.assignee_account_id
                      else org_staff(session, ticket.org_id, config.manager_roles))
    tell(session, clock, ticket, key=f"ev:{event.id}", template=template, recipients=recipients,
         config=config, action=event.action)
