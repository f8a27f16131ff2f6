"""Tickets: filing, the actions on them, and the lists. Keyword-only functions taking the
session, the clock, the acting principal and the scenario's config; they flush, the caller
commits.

Filing (``create``) is a line of named steps, each in its own module, in this order:
the scenario places the report (``config.locate``) → its terms (``policies``: the SLA policy
and calendar, ``sla``: due times and timers) → it is filed (``filing``: the ticket, its event
and timers) → its photos (``photos``) → its content's moderation (``moderation``) → the
duplicate hint (``duplicates``) → where the scenario routes it (``routing``) → who is told
(``notifications``). Every action on a ticket locks it and checks who may see it
(``access``), then makes its change through ``changes.perform``; the owner's changes that are
not transitions (``set_priority``, ``set_appointment``) through ``_owner_change``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import chains
from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from app.places.models import Building
from app.places.service import find_community
from app.storage.models import Upload
from auth.models import Membership
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.workflow import duplicates, filing, moderation, notifications, policies, routing, sla, trail
from scenarios.engines.workflow import photos as photo_steps
from scenarios.engines.workflow.access import Access, check_version, invalid, locked
from scenarios.engines.workflow.changes import perform
from scenarios.engines.workflow.config import Placement, WorkflowConfig
from scenarios.engines.workflow.models import FINAL_STATUSES, PRIORITIES, Ticket, TicketEvent
from scenarios.engines.workflow.transitions import REPORTER


@dataclass
class Created:
    """A new ticket and what its answer shows, all in hand: its trail (``events``, in order),
    its report photos as (stage, upload), and the placement (whose ``loaded`` rows the
    presenter finds in the session), so the answer needs no query."""

    ticket: Ticket
    similar_open: duplicates.Scope | None
    events: list[TicketEvent] = field(default_factory=list)
    photos: list[tuple[str, Upload]] = field(default_factory=list)
    placement: Placement | None = None
    owner: Organisation | None = None  # the routed owner, held so the answer finds it in the session


# ---------------------------------------------------------------- create


def _checked_report(config: WorkflowConfig, principal: Principal, data: dict[str, Any]) -> tuple[str, str, dict]:
    """The report's category, text and details, or a 403/422."""
    if not (principal.is_resident or (principal.is_staff and principal.role in config.staff_reporter_roles)):
        raise ApiError("forbidden")
    category = data.get("category")
    if category not in config.categories:
        raise ApiError("unknown_category", errors={"category": [
            f"未知类别“{category}”，可选：{'、'.join(config.categories)}。"]})
    text = config.check_text(data.get("text"))
    if config.photos_required and not data.get("photos"):
        raise ApiError("validation_error", errors={"photos": ["请至少添加一张现场照片。"]})
    details = data.get("details") or {}
    if config.details_schema is not None:
        details = config.details_schema().dump(details)
    elif details:
        raise ApiError("validation_error", errors={"details": ["该场景没有附加字段。"]})
    return category, text, details


def create(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig,
           data: dict[str, Any]) -> Created:
    """File a ticket. ``data``: category, text, photos (public ids), details (already loaded by
    the scenario's schema), plus the scenario's location fields for ``config.locate``.

    Residents file; so do staff in ``config.staff_reporter_roles``. With ``config.moderated``
    the text and photos are submitted for moderation; ``config.route`` then sends the ticket on
    (at once, or when its content is cleared). The steps: the module docstring."""
    category, text, details = _checked_report(config, principal, data)
    placement = config.locate(session, clock=clock, principal=principal, data=data)
    now = clock.now()
    terms, cal = policies.new_ticket_terms(session, config=config, category=config.policy_key(category, data),
                                           now=now)
    ticket = Ticket(
        scenario=config.slug, org_id=placement.org.id, reporter_account_id=principal.account_id,
        dispatch_org_id=placement.dispatcher.id if placement.dispatcher is not None else None,
        subject_person_id=placement.subject_person_id or principal.person_id,
        community_id=placement.community_id, building_id=placement.building_id, room=placement.room,
        village_id=placement.village_id, house_number=placement.house_number, lat=placement.lat,
        lon=placement.lon, address=placement.address, category=category, text=text, status="submitted",
        is_open=True, priority=data.get("priority") or "normal",
        details={**details, **placement.details} if placement.details else details, moderation_state="visible",
        sla_policy_id=terms.id, response_minutes=terms.response_minutes,
        resolution_minutes=terms.resolution_minutes, calendar=terms.calendar, escalation_level=0,
        escalation_version=chains.current_version(session, config.slug), reopen_count=0,
        response_breached=False, resolution_breached=False, version=1, created_at=now, updated_at=now,
    )
    timers = sla.start_clocks(session, ticket, cal, now, resolution_due_at=(
        config.resolution_due(data) if config.resolution_due is not None else None))
    event = trail.new_event(ticket, principal, "create", at=now, to_status="submitted")
    filing.file(session, ticket, event, timers, number_head=f"{config.number_prefix}{now.astimezone(CST):%Y%m%d}")
    if config.on_filed is not None:
        config.on_filed(session, ticket=ticket, data=data)
    uploads = photo_steps.attach(session, ticket, public_ids=data.get("photos"), principal=principal,
                                 stage="report", event=event, config=config, now=now)
    if config.moderated:
        moderation.moderate(session, clock=clock, ticket=ticket, text=text, uploads=uploads)
    hints = duplicates.find(session, config=config, ticket=ticket)
    filed_org_id = ticket.org_id
    routed = (routing.route_ticket(session, clock=clock, config=config, ticket=ticket)
              if ticket.moderation_state == "visible" else None)
    notifications.tell_filed(session, clock, config, ticket, filed_org_id=filed_org_id,
                             routed=routed.event if routed else None, moved=bool(routed and routed.moved))
    session.flush()
    events = [event, routed.event] if routed is not None else [event]
    return Created(ticket, hints, events=events, photos=[("report", u) for u in uploads], placement=placement,
                   owner=routed.org if routed is not None else None)


# ---------------------------------------------------------------- transitions

def transition(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
               action: str, note: str | None = None, expected_version: int | None = None) -> Ticket:
    """A plain transition (no extra fields): start, request_info, provide_info, resume, confirm, close."""
    if action not in config.table:
        raise ApiError("not_found")
    ticket, access = locked(session, principal, config, ticket_id)
    note = config.check_text(note, "note", required=False)
    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action=action, note=note, expected_version=expected_version)
    return ticket


def acknowledge(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
                note: str | None = None, expected_version: int | None = None) -> Ticket:
    return transition(session, clock=clock, principal=principal, config=config, ticket_id=ticket_id,
                      action="acknowledge", note=note, expected_version=expected_version)


def start(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
          note: str | None = None, expected_version: int | None = None) -> Ticket:
    return transition(session, clock=clock, principal=principal, config=config, ticket_id=ticket_id,
                      action="start", note=note, expected_version=expected_version)


def confirm(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
            note: str | None = None, expected_version: int | None = None) -> Ticket:
    return transition(session, clock=clock, principal=principal, config=config, ticket_id=ticket_id,
                      action="confirm", note=note, expected_version=expected_version)


def close(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
          note: str | None = None, expected_version: int | None = None) -> Ticket:
    return transition(session, clock=clock, principal=principal, config=config, ticket_id=ticket_id,
                      action="close", note=note, expected_version=expected_version)


def is_assignable(session: Session, *, config: WorkflowConfig, org_id: int, account_id: int) -> bool:
    return account_id in notifications.members_with(session, org_id, config.assignee_roles) if account_id else False


def assign(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
           assignee_account_id: int, note: str | None = None, appointment_at: datetime | None = None,
           expected_version: int | None = None) -> Ticket:
    """Assign to a technician (``config.assignee_roles``) of the owning organisation only;
    with ``appointment_at``, when they will call (the reporter is told)."""
    ticket, access = locked(session, principal, config, ticket_id)
    note = config.check_text(note, "note", required=False)
    data: dict[str, Any] = {"assignee_account_id": assignee_account_id}
    if appointment_at is not None:
        appointment_at = _aware_utc(appointment_at)
        data["appointment_at"] = appointment_at.isoformat()

    def check(t: Ticket, now: datetime) -> None:
        if not is_assignable(session, config=config, org_id=t.org_id, account_id=assignee_account_id):
            raise ApiError("assignee_not_in_org", errors={"assignee_account_id": [
                "只能指派给本单位的在岗维修人员。"]})
        if appointment_at is not None:
            checked_appointment(appointment_at, now)

    def apply(t: Ticket, now: datetime) -> None:
        t.assignee_account_id = assignee_account_id
        if appointment_at is not None:
            t.appointment_at = appointment_at

    def after(t: Ticket, event: TicketEvent, now: datetime) -> None:
        if appointment_at is not None:
            notifications.tell_appointment(session, clock, config, t, event)

    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="assign", note=note, expected_version=expected_version, check=check, apply=apply,
             after=after, data=data)
    return ticket


APPOINTMENT_HORIZON = timedelta(days=90)
"""How far ahead an appointment may be made."""


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ApiError("validation_error", errors={"appointment_at": ["须带时区，如 2026-11-02T14:00:00+08:00。"]})
    return value.astimezone(UTC)


def checked_appointment(appointment_at: datetime, now: datetime) -> datetime:
    """``appointment_at`` in UTC when it is an aware time from now to ``APPOINTMENT_HORIZON``
    ahead; else a 422 naming ``appointment_at``."""
    appointment_at = _aware_utc(appointment_at)
    if appointment_at < now:
        raise ApiError("appointment_in_past", errors={"appointment_at": ["预约上门时间不能早于现在。"]})
    if appointment_at > now + APPOINTMENT_HORIZON:
        raise ApiError("appointment_too_far", errors={"appointment_at": [
            f"预约上门时间须在 {APPOINTMENT_HORIZON.days} 天内。"]})
    return appointment_at


# ---------------------------------------------------------------- the owner's changes (not transitions)


def _owner_change(ticket: Ticket, access: Access, expected_version: int | None, action: str) -> None:
    """The order of ``changes.perform`` for a change that is not a transition: 403 unless the
    caller is staff of the owning organisation (404 came first, from ``locked``) → 412 → 409 on
    a final ticket."""
    if access.how != "member" or not access.can_act:
        raise ApiError("forbidden")
    check_version(ticket, expected_version)
    if ticket.status in FINAL_STATUSES:
        raise invalid(ticket, action)


def set_priority(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
                 priority: str, reason: str, expected_version: int | None = None) -> Ticket:
    """Staff of the owning organisation set the ticket's priority, with a reason: an internal event
    (the reporter sees the priority, not the reason). The same priority again changes nothing."""
    ticket, access = locked(session, principal, config, ticket_id)
    _owner_change(ticket, access, expected_version, "priority")
    if priority not in PRIORITIES:
        raise ApiError("validation_error", errors={"priority": [f"可选：{'、'.join(PRIORITIES)}。"]})
    reason = config.check_text(reason, "reason")
    if priority == ticket.priority:
        return ticket
    now = clock.now()
    data = {"from": ticket.priority, "to": priority}
    ticket.priority = priority
    trail.touch(ticket, now)
    trail.add_event(session, ticket, principal, "priority", at=now, note=reason, data=data, internal=True)
    session.flush()
    return ticket


def set_appointment(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig,
                    ticket_id: int, appointment_at: datetime, note: str | None = None,
                    expected_version: int | None = None) -> Ticket:
    """Staff of the owning organisation set or change when they will call at the reporter's, on
    a ticket still open; the reporter is told. The same time again changes nothing."""
    ticket, access = locked(session, principal, config, ticket_id)
    _owner_change(ticket, access, expected_version, "appointment")
    if not ticket.is_open:
        raise invalid(ticket, "appointment")
    note = config.check_text(note, "note", required=False)
    now = clock.now()
    appointment_at = checked_appointment(appointment_at, now)
    if ticket.appointment_at == appointment_at:
        return ticket
    previous = ticket.appointment_at
    ticket.appointment_at = appointment_at
    trail.touch(ticket, now)
    event = trail.add_event(session, ticket, principal, "appointment", at=now, note=note, data={
        "appointment_at": appointment_at.isoformat(), "previous": previous.isoformat() if previous else None})
    notifications.tell_appointment(session, clock, config, ticket, event)
    session.flush()
    return ticket


def request_info(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
                 note: str, expected_version: int | None = None) -> Ticket:
    """Ask the reporter something: the ticket waits and its clock is paused."""
    ticket, access = locked(session, principal, config, ticket_id)
    note = config.check_text(note, "note")
    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="request_info", note=note, expected_version=expected_version)
    return ticket


def resume(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
           note: str | None = None, expected_version: int | None = None) -> Ticket:
    return transition(session, clock=clock, principal=principal, config=config, ticket_id=ticket_id,
                      action="resume", note=note, expected_version=expected_version)


def resolve(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
            note: str, photos: list[str] | None = None, expected_version: int | None = None) -> Ticket:
    """Resolved, with a note and (the resolver's own) photos; the reporter is told."""
    ticket, access = locked(session, principal, config, ticket_id)
    note = config.check_text(note, "note")

    def apply(t: Ticket, now: datetime) -> None:
        t.resolved_at = now
        if t.resolution_due_at is not None and now > t.resolution_due_at:
            t.resolution_breached = True

    def after(t: Ticket, event: TicketEvent, now: datetime) -> None:
        photo_steps.attach(session, t, public_ids=photos, principal=principal, stage="resolution", event=event,
                           config=config, now=now)

    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="resolve", note=note, expected_version=expected_version, apply=apply, after=after)
    return ticket


def reject(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
           reason: str, expected_version: int | None = None) -> Ticket:
    ticket, access = locked(session, principal, config, ticket_id)
    reason = config.check_text(reason, "reason")
    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="reject", note=reason, expected_version=expected_version)
    return ticket


def mark_duplicate(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig,
                   ticket_id: int, duplicate_of: int, note: str | None = None,
                   expected_version: int | None = None) -> Ticket:
    """Close as a duplicate of another ticket of the same organisation; both trails link."""
    ticket, access = locked(session, principal, config, ticket_id)
    note = config.check_text(note, "note", required=False)
    original: list[Ticket] = []

    def check(t: Ticket, now: datetime) -> None:
        other = session.get(Ticket, duplicate_of)
        seen = set()
        while other is not None and other.duplicate_of_id is not None and other.id not in seen:
            seen.add(other.id)
            other = session.get(Ticket, other.duplicate_of_id)
        same_desk = other is not None and (other.org_id == t.org_id or (
            t.dispatch_org_id is not None and other.dispatch_org_id == t.dispatch_org_id))
        if other is None or other.scenario != t.scenario or not same_desk or other.id == t.id:
            raise ApiError("validation_error", errors={"duplicate_of": ["原工单不存在、不属于本单位或就是本工单。"]})
        original.append(other)

    def apply(t: Ticket, now: datetime) -> None:
        t.duplicate_of_id = original[0].id

    def after(t: Ticket, event: TicketEvent, now: datetime) -> None:
        trail.add_event(session, original[0], principal, "duplicate_linked", at=now,
                        data={"ticket_id": t.id, "number": t.number})

    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="mark_duplicate", note=note, expected_version=expected_version, check=check, apply=apply,
             after=after, data={"duplicate_of": duplicate_of})
    return ticket


def reopen(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
           reason: str, expected_version: int | None = None) -> Ticket:
    """The reporter reopens within ``config.reopen_days`` of the resolution: the clocks restart."""
    ticket, access = locked(session, principal, config, ticket_id)
    reason = config.check_text(reason, "reason")

    def check(t: Ticket, now: datetime) -> None:
        if t.resolved_at is None or now - t.resolved_at > timedelta(days=config.reopen_days):
            raise ApiError("reopen_window_passed", detail={"reopen_days": config.reopen_days})

    def apply(t: Ticket, now: datetime) -> None:
        t.reopen_count += 1
        t.escalation_level = 0
        t.resolved_at = None
        t.closed_at = None
        t.resolution_breached = False
        sla.arm(session, t, sla.start_clocks(session, t, sla.ticket_calendar(session, t), now))

    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="reopen", note=reason, expected_version=expected_version, check=check, apply=apply)
    return ticket


# ---------------------------------------------------------------- comments and ratings


def comment(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
            text: str | None, photos: list[str] | None = None, internal: bool = False,
            expected_version: int | None = None) -> Ticket:
    """A note (and photos) from the reporter or a member of the owning organisation.

    A reporter's comment on a ticket waiting for them also answers it (``provide_info``).
    ``internal``: a staff note for staff only (422 ``internal_note_staff_only`` from anyone who
    sees the ticket as its reporter); it and its photos never reach the reporter.
    """
    ticket, access = locked(session, principal, config, ticket_id)
    if not access.can_act:
        raise ApiError("forbidden")
    if internal and not access.staff_view:
        raise ApiError("internal_note_staff_only", errors={"internal": ["只有处理工单的工作人员可以添加内部备注。"]})
    check_version(ticket, expected_version)
    if ticket.status in FINAL_STATUSES:
        raise invalid(ticket, "comment")
    text = config.check_text(text, "text", required=not photos)
    now = clock.now()
    reporter = REPORTER in access.actors
    if reporter and not internal and ticket.status == "awaiting_reporter" and "provide_info" in config.table:
        event = perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
                         action="provide_info", note=text)
    else:
        trail.touch(ticket, now)
        event = trail.add_event(session, ticket, principal, "comment", at=now, note=text, internal=bool(internal))
    photo_steps.attach(session, ticket, public_ids=photos, principal=principal,
                       stage="report" if reporter else "resolution", event=event, config=config, now=now)
    session.flush()
    return ticket


def rate(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
         rating: int, comment: str | None = None, expected_version: int | None = None) -> Ticket:
    """The reporter rates a resolved or closed ticket once, 1–5, with an optional comment."""
    ticket, access = locked(session, principal, config, ticket_id)
    if REPORTER not in access.actors:
        raise ApiError("forbidden")
    check_version(ticket, expected_version)
    if ticket.status not in ("resolved", "closed"):
        raise invalid(ticket, "rate")
    if ticket.rating is not None:
        raise ApiError("already_rated", detail={"rating": ticket.rating})
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ApiError("validation_error", errors={"rating": ["评分须为 1 到 5 的整数。"]})
    comment = config.check_text(comment, "comment", required=False)
    now = clock.now()
    ticket.rating, ticket.rating_comment, ticket.rated_at = rating, comment, now
    trail.touch(ticket, now)
    trail.add_event(session, ticket, principal, "rate", at=now, note=comment, data={"rating": rating})
    session.flush()
    return ticket


# ---------------------------------------------------------------- lists


def mine(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig | None = None,
         scenario: str | None = None, status: list[str] | None = None, open: bool = False) -> sa.Select:
    """The caller's own tickets, newest first: of ``config``'s scenario, else of ``scenario``,
    else of every workflow scenario; ``open``: only those in progress."""
    stmt = sa.select(Ticket).where(Ticket.reporter_account_id == principal.account_id)
    scenario = config.slug if config is not None else scenario
    if scenario:
        stmt = stmt.where(Ticket.scenario == scenario)
    if status:
        stmt = stmt.where(Ticket.status.in_(status))
    if open:
        stmt = stmt.where(Ticket.is_open.is_(True))
    return stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc())


def queue(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig,
          status: list[str] | None = None, category: str | None = None, community: str | None = None,
          overdue: bool | None = None, due_within_minutes: int | None = None, due_soon: bool | None = None,
          assignee: str | int | None = None, dispatched: bool = False, q: str | None = None,
          sort: str = "due", priority: list[str] | None = None) -> sa.Select:
    """The acting organisation's tickets, soonest deadline first (open ones unless ``status``).

    ``community``: a community's code; ``assignee``: ``"me"`` or an account id; ``due_soon``: due
    within the scenario's due-soon window (``due_within_minutes`` wins when both are given).
    ``dispatched``: the tickets the organisation routed, wherever they are now. A scoped role
    (a road chief) gets the tickets assigned to them. Tickets whose content waits for
    moderation show only at their dispatcher (they are not routed before it is cleared).
    ``q``: a search (``search``); ``priority``: any of these; ``sort``: one of ``ORDERS``.

    Every filter narrows the organisation's tickets of the scenario (the leading columns of
    ``ix_wf_tickets_queue`` and ``ix_wf_tickets_priority_queue``): ``due`` reads them in index
    order, the other orders sort what the filters leave.
    """
    if sort not in ORDERS:
        raise ApiError("validation_error", errors={"sort": [f"可选：{', '.join(ORDERS)}。"]})
    if not principal.is_staff or principal.org_id is None:
        raise ApiError("forbidden")
    community_id = _community_id(session, community)
    assignee_account_id = _assignee_id(principal, assignee)
    if due_soon and due_within_minutes is None:
        due_within_minutes = config.due_soon_minutes
    now = clock.now()
    if principal.role in config.scoped_roles:
        mine_only = Ticket.assignee_account_id == principal.account_id
        stmt = sa.select(Ticket).where(mine_only, Ticket.scenario == config.slug)
    elif dispatched:
        stmt = sa.select(Ticket).where(Ticket.dispatch_org_id == principal.org_id, Ticket.scenario == config.slug)
    else:
        stmt = sa.select(Ticket).where(Ticket.org_id == principal.org_id, Ticket.scenario == config.slug)
    if config.moderated:
        stmt = stmt.where(sa.or_(Ticket.moderation_state == "visible", Ticket.dispatch_org_id == principal.org_id))
    if status:
        stmt = stmt.where(Ticket.status.in_(status))
    else:
        stmt = stmt.where(Ticket.is_open.is_(True))
    if category:
        stmt = stmt.where(Ticket.category == category)
    if community_id is not None:
        stmt = stmt.where(Ticket.community_id == community_id)
    if overdue is True:
        stmt = stmt.where(Ticket.due_at < now)
    elif overdue is False:
        stmt = stmt.where(sa.or_(Ticket.due_at.is_(None), Ticket.due_at >= now))
    if due_within_minutes is not None:
        stmt = stmt.where(Ticket.due_at >= now, Ticket.due_at < now + timedelta(minutes=due_within_minutes))
    if assignee_account_id is not None:
        stmt = stmt.where(Ticket.assignee_account_id == assignee_account_id)
    if priority:
        stmt = stmt.where(Ticket.priority.in_(priority))
    condition = search(q)
    if condition is not None:
        stmt = stmt.where(condition)
    return stmt.order_by(*ORDERS[sort])


_PRIORITY_RANK = sa.case({p: i for i, p in enumerate(reversed(PRIORITIES))}, value=Ticket.priority, else_=len(
    PRIORITIES))
"""0 for the most urgent priority (``PRIORITIES`` runs from low to urgent)."""

ORDERS: dict[str, tuple[Any, ...]] = {
    "due": (Ticket.due_at.asc().nulls_last(), Ticket.id),
    "created": (Ticket.created_at, Ticket.id),
    "-created": (Ticket.created_at.desc(), Ticket.id.desc()),
    "priority": (_PRIORITY_RANK, Ticket.due_at.asc().nulls_last(), Ticket.id),
    "updated": (Ticket.updated_at.desc(), Ticket.id.desc()),
}
"""The queue's orders by name (``schemas.SORTS``); each ends with the id, so pages never overlap."""

_BUILDING_ROOM = re.compile(r"^([0-9A-Za-z]+?)\s*(?:号楼|号|栋|幢|-|/)\s*([0-9]+)\s*室?$")
_BUILDING = re.compile(r"^([0-9A-Za-z]+?)\s*(?:号楼|号|栋|幢)$")


def _like(text: str) -> str:
    """``text`` for a LIKE pattern with ``\\`` as the escape character: its own wildcards are literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _in_building(number: str) -> sa.ColumnElement[bool]:
    return Ticket.building_id.in_(sa.select(Building.id).where(Building.number == number))


def search(q: str | None) -> sa.ColumnElement[bool] | None:
    """Tickets matching ``q`` (None when there is nothing to search): a ticket number (whole or
    its beginning, any case), a room (``302``), a building (``3``, ``3号楼``), a building and
    room (``3-302``, ``3号楼302``), or a piece of the text. Wildcards in ``q`` are literal."""
    q = (q or "").strip()
    if not q:
        return None
    options = [
        Ticket.number.like(_like(q.upper()) + "%", escape="\\"),
        Ticket.room == q,
        _in_building(q),
        Ticket.text.ilike("%" + _like(q) + "%", escape="\\"),
    ]
    if (match := _BUILDING.match(q)) is not None:
        options.append(_in_building(match.group(1)))
    if (match := _BUILDING_ROOM.match(q)) is not None:
        options.append(sa.and_(_in_building(match.group(1)), Ticket.room == match.group(2)))
    return sa.or_(*options)


def _community_id(session: Session, code: str | None) -> int | None:
    """The community's id (-1, matching nothing, for an unknown code); None when not asked."""
    if not code:
        return None
    community = find_community(session, code)
    return community.id if community is not None else -1


def _assignee_id(principal: Principal, assignee: str | int | None) -> int | None:
    if assignee is None or assignee == "":
        return None
    if assignee == "me":
        return principal.account_id
    if isinstance(assignee, int) or assignee.isdigit():
        return int(assignee)
    raise ApiError("validation_error", errors={"assignee": ["须为 me 或账号 id。"]})


def supervised_org_ids(principal: Principal) -> sa.Select:
    return sa.select(Organisation.id).where(Organisation.supervisor_id == principal.org_id)


def escalated(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig,
              include_closed: bool = False, org: str | None = None) -> sa.Select:
    """Escalated tickets of every organisation the caller's organisation supervises, and of
    the tickets it dispatched; ``org``: one organisation's code."""
    if not principal.is_staff or principal.role not in config.supervisor_roles:
        raise ApiError("forbidden")
    stmt = sa.select(Ticket).where(Ticket.scenario == config.slug, Ticket.escalation_level >= 1, sa.or_(
        Ticket.org_id.in_(supervised_org_ids(principal).scalar_subquery()),
        Ticket.dispatch_org_id == principal.org_id))
    if org:
        org_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == org)) or -1
        stmt = stmt.where(Ticket.org_id == org_id)
    if not include_closed:
        stmt = stmt.where(Ticket.is_open.is_(True))
    return stmt.order_by(Ticket.escalation_level.desc(), Ticket.due_at.asc().nulls_last(), Ticket.id)


def assignable_staff(session: Session, *, principal: Principal, config: WorkflowConfig) -> list[Membership]:
    """Who the acting organisation may assign tickets to."""
    if not principal.is_staff or principal.org_id is None:
        raise ApiError("forbidden")
    ids = notifications.members_with(session, principal.org_id, config.assignee_roles)
    if not ids:
        return []
    return list(session.scalars(sa.select(Membership).where(
        Membership.organisation_id == principal.org_id, Membership.account_id.in_(ids))
        .order_by(Membership.account_id)))
