"""Tickets that move between organisations, and tickets whose content others will see.

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
  The new owner's managers (and the assignee) are told.
- **Moderation** (``config.moderated``): ``moderate`` submits the text and report photos to
  ``app.moderation``. Refused at once → 422 ``content_rejected`` naming ``text`` or
  ``photos`` (nothing is kept); waiting → ``moderation_state`` ``pending``: the ticket stays
  with its first owner (not routed, not transferable, in no other queue, in no public
  figure). Staff's decision arrives through ``moderation_decided``: cleared → ``visible``
  and routed; refused → ``hidden``, the ticket rejected and the reporter told.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.moderation.models import ModerationItem
from app.moderation.service import moderation_decided, submit
from app.storage.models import Upload
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.workflow import notifications as notify
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.config import WorkflowConfig, config_for
from scenarios.engines.workflow.models import Ticket, TicketEvent

MODERATION_SUBJECT = "wf_ticket"
MOVES = ("route", "transfer")


def _move(session: Session, ticket: Ticket, *, org: Organisation, assignee_account_id: int | None,
          now) -> bool:
    """Give the ticket to ``org`` (and the assignee); a new owner gets a fresh response clock."""
    moved = org.id != ticket.org_id
    ticket.org_id = org.id
    ticket.assignee_account_id = assignee_account_id
    if moved:
        cal = svc.ticket_calendar(session, ticket)
        ticket.response_due_at = cal.add(now, ticket.response_minutes * 60)
        ticket.escalation_level = 0
        svc._schedule(session, ticket, svc._response_timers(ticket, cal))
    return moved


def _tell_new_owner(session: Session, clock: Clock, config: WorkflowConfig, ticket: Ticket, event: TicketEvent,
                    moved: bool) -> None:
    if moved:
        notify.tell(session, clock, ticket, key=f"ev:{event.id}:org", template="wf.ticket_created",
                    recipients=notify.org_staff(session, ticket.org_id, config.manager_roles), config=config,
                    action=event.action)
    if ticket.assignee_account_id:
        notify.tell(session, clock, ticket, key=f"ev:{event.id}", template="wf.ticket_assigned",
                    recipients=[notify.Recipient.account(ticket.assignee_account_id)], config=config,
                    action=event.action)


def route_ticket(session: Session, *, clock: Clock, config: WorkflowConfig, ticket: Ticket) -> TicketEvent | None:
    """Ask the scenario where the ticket goes and send it there (a system ``route`` event)."""
    if config.route is None:
        return None
    routing = config.route(session, clock=clock, ticket=ticket)
    if routing is None or (routing.org.id == ticket.org_id and routing.assignee_account_id in
                           (None, ticket.assignee_account_id)):
        return None
    now = clock.now()
    source = session.get(Organisation, ticket.org_id)
    moved = _move(session, ticket, org=routing.org, assignee_account_id=routing.assignee_account_id, now=now)
    svc._touch(ticket, now)
    event = svc.add_event(session, ticket, None, "route", at=now, from_status=ticket.status, to_status=ticket.status,
                          note=routing.reason, data={"from_org": source.code, "to_org": routing.org.code,
                                                     "assignee_account_id": routing.assignee_account_id})
    _tell_new_owner(session, clock, config, ticket, event, moved)
    return event


def was_moved(session: Session, ticket: Ticket) -> bool:
    return session.scalar(sa.select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.action.in_(MOVES)).limit(1)) is not None


def transfer(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
             org: str, note: str | None = None, expected_version: int | None = None) -> Ticket:
    """Move a ticket to another organisation (``config.transfer_org_types``), back to ``submitted``."""
    if "transfer" not in config.table:
        raise ApiError("not_found")
    ticket, access = svc._locked(session, principal, config, ticket_id)
    note = svc._check_text(config, note, "note", required=False)
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
        _tell_new_owner(session, clock, config, t, event, True)

    svc._perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
                 action="transfer", note=note, expected_version=expected_version, check=check, apply=apply,
                 after=after, data={"from_org": source.code, "to_org": org})
    return ticket


# ---------------------------------------------------------------- moderation


def moderate(session: Session, *, clock: Clock, ticket: Ticket, text: str | None, uploads: Sequence[Upload]) -> str:
    """Submit a new ticket's text and photos; set its ``moderation_state`` or refuse it (422)."""
    state = submit(session, subject_type=MODERATION_SUBJECT, subject_id=ticket.id, clock=clock,
                   texts=[text] if text else [], uploads=uploads, author_account_id=ticket.reporter_account_id)
    if state == "rejected":
        kinds = set(session.scalars(sa.select(ModerationItem.kind).where(
            ModerationItem.subject_type == MODERATION_SUBJECT, ModerationItem.subject_id == str(ticket.id),
            ModerationItem.state == "rejected")))
        errors: dict[str, list[str]] = {}
        if "text" in kinds:
            errors["text"] = ["内容含有不当信息，请修改后再提交。"]
        if "media" in kinds:
            errors["photos"] = ["照片未通过审核，请更换后再提交。"]
        raise ApiError("content_rejected", errors=errors)
    ticket.moderation_state = "visible" if state == "cleared" else "pending"
    return state


def apply_moderation(session: Session, *, clock: Clock, ticket_id: int, state: str) -> None:
    """A staff (or WeChat) decision on a ticket whose content waited for review."""
    ticket = svc.lock_ticket(session, ticket_id)
    if ticket is None or ticket.moderation_state != "pending":
        return
    config = config_for(ticket.scenario)
    now = clock.now()
    if state == "cleared":
        ticket.moderation_state = "visible"
        svc._touch(ticket, now)
        svc.add_event(session, ticket, None, "moderation_cleared", at=now)
        if config is not None and ticket.is_open and not was_moved(session, ticket):
            route_ticket(session, clock=clock, config=config, ticket=ticket)
    elif state == "rejected":
        ticket.moderation_state = "hidden"
        from_status = ticket.status
        if ticket.is_open:
            ticket.status = "rejected"
            svc._cancel(session, ticket)
        svc._touch(ticket, now)
        svc.add_event(session, ticket, None, "moderation_rejected", at=now, from_status=from_status,
                      to_status=ticket.status, note="内容未通过审核")
        notify.tell(session, clock, ticket, key="moderation_rejected", template="wf.content_rejected",
                    recipients=notify.reporter(ticket), config=config, reason="内容未通过审核")
    session.flush()


@moderation_decided.connect_via(MODERATION_SUBJECT)
def _on_decided(sender: str, *, session: Session, subject_id: str, state: str, clock: Clock) -> None:
    apply_moderation(session, clock=clock, ticket_id=int(subject_id), state=state)
