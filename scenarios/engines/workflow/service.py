"""Tickets: create, read, transitions, comments, ratings and lists. Keyword-only functions
taking the session, the clock, the acting principal and the scenario's config; they flush,
the caller commits.

Locking (PostgreSQL): every change first locks the ticket's pending timers, then the ticket
row (``lock_ticket``). The worker holds a due timer's lock while its handler locks the
ticket, so both sides take the locks in the same order (timer, then ticket) and cannot
deadlock; an acknowledgement racing the sweep either waits for the escalation to commit
(and is then recorded late) or commits first and cancels the timer (the handler, finding
the ticket answered, does nothing). SQLite serialises writers (``BEGIN IMMEDIATE``).

Visibility: the reporter sees their own tickets; staff see what their organisation reaches
(``auth.permissions.reach``: members, supervisors, the district), but only members act; the
staff of the dispatching organisation (``dispatch_org_id``) see the tickets they routed and
act as ``dispatcher``; staff in a scoped role (``config.scoped_roles``: road chiefs) see only
the tickets assigned to them or that they reported, whatever their organisation; anyone
else gets 404. Visible but not allowed is 403; allowed but from the wrong state is 409
``invalid_transition`` naming the current state.

Routing, transfers and moderation: ``routing.py``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.calendar import Calendar
from app.clock import Clock
from app.db import utcnow
from app.errors import ApiError
from app.fields import CST
from app.geo import bounding_box, haversine_m
from app.places.service import find_community
from app.storage.models import Upload
from app.storage.service import claim_photos
from app.timers import KEY_COLUMNS, PENDING, Timer, cancel
from auth.models import Membership
from auth.organisations import Organisation
from auth.permissions import reach
from auth.principal import Principal
from scenarios.engines.workflow import notifications as notify
from scenarios.engines.workflow.config import Placement, WorkflowConfig, config_for
from scenarios.engines.workflow.filing import file_ticket, tell_org_staff
from scenarios.engines.workflow.models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    RESPONSE_PENDING,
    SlaPolicy,
    Ticket,
    TicketEvent,
    TicketPhoto,
)
from scenarios.engines.workflow.policies import new_ticket_terms
from scenarios.engines.workflow.sla import calendar_for
from scenarios.engines.workflow.transitions import ASSIGNEE, DISPATCHER, REPORTER, Transition

SUBJECT = "wf_ticket"
RESPONSE_KIND = "workflow.response"
RESOLUTION_KIND = "workflow.resolution"
ESCALATION_LEVELS = (1, 2)
MAX_DUPLICATE_HINTS = 5


@dataclass(frozen=True)
class Access:
    """How the caller relates to a ticket: ``how`` they see it, and the actors they count as."""

    how: str  # reporter | member | dispatcher | assignee | ancestor | supervisor | district
    actors: frozenset[str] = field(default_factory=frozenset)

    @property
    def can_act(self) -> bool:
        return bool(self.actors)


@dataclass
class Created:
    """A new ticket and what its answer shows, all in hand: its trail (``events``, in order),
    its report photos as (stage, upload), and the placement (whose ``loaded`` rows the
    presenter finds in the session), so the answer needs no query."""

    ticket: Ticket
    possible_duplicates: list[dict[str, Any]]
    events: list[TicketEvent] = field(default_factory=list)
    photos: list[tuple[str, Upload]] = field(default_factory=list)
    placement: Placement | None = None


# ---------------------------------------------------------------- locking and access


def lock_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """Lock the ticket's pending timers, then the ticket (see the module docstring)."""
    session.execute(
        sa.select(Timer.id)
        .where(Timer.subject_type == SUBJECT, Timer.subject_id == str(ticket_id), Timer.state == PENDING)
        .with_for_update()
    ).all()
    return session.scalars(
        sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update(),
        execution_options={"populate_existing": True},
    ).one_or_none()


def access_to(session: Session, principal: Principal, ticket: Ticket | None,
              config: WorkflowConfig | None = None) -> Access:
    """The caller's access to ``ticket``; 404 when they may not see it (or it is not there)."""
    if ticket is None or (config is not None and ticket.scenario != config.slug):
        raise ApiError("not_found")
    if principal.is_resident:
        if principal.account_id is not None and ticket.reporter_account_id == principal.account_id:
            return Access("reporter", frozenset({REPORTER}))
        raise ApiError("not_found")
    if principal.is_staff:
        actors: set[str] = set()
        if principal.account_id is not None and ticket.reporter_account_id == principal.account_id:
            actors.add(REPORTER)  # a staff reporter (a road chief on patrol)
        config = config or config_for(ticket.scenario)
        if config is not None and principal.role in config.scoped_roles:
            if principal.account_id is not None and ticket.assignee_account_id == principal.account_id:
                actors |= {principal.role, ASSIGNEE}
                return Access("assignee", frozenset(actors))
            if actors:
                return Access("reporter", frozenset(actors))
            raise ApiError("not_found")
        org = session.get(Organisation, ticket.org_id)
        how = reach(principal, org, session=session) if org is not None else None
        if how == "member" and principal.role:
            actors.add(principal.role)
            if ticket.assignee_account_id == principal.account_id:
                actors.add(ASSIGNEE)
        if ticket.dispatch_org_id is not None and ticket.dispatch_org_id == principal.org_id:
            actors.add(DISPATCHER)
            how = how if how == "member" else "dispatcher"
        if how is None:
            if REPORTER in actors:
                return Access("reporter", frozenset(actors))
            raise ApiError("not_found")
        return Access(how, frozenset(actors))
    raise ApiError("not_found")


def get_ticket(session: Session, *, principal: Principal, config: WorkflowConfig | None,
               ticket_id: int) -> tuple[Ticket, Access]:
    ticket = session.get(Ticket, ticket_id)
    return ticket, access_to(session, principal, ticket, config)  # type: ignore[return-value]


def check_version(ticket: Ticket, expected: int | None) -> None:
    if expected is not None and ticket.version != expected:
        raise ApiError("precondition_failed", detail={"current_version": ticket.version})


def invalid(ticket: Ticket, action: str) -> ApiError:
    return ApiError("invalid_transition", detail={"current_status": ticket.status, "action": action},
                    message=f"工单当前状态为“{ticket.status}”，不能执行“{action}”。")


# ---------------------------------------------------------------- the SLA clock


def ticket_calendar(session: Session, ticket: Ticket) -> Calendar:
    if ticket.calendar == "24x7":
        return Calendar("24x7")
    return calendar_for(session, session.get(SlaPolicy, ticket.sla_policy_id))


_UPSERTS: dict[str, Any] = {}


def _schedule(session: Session, ticket: Ticket, timers: list[tuple[str, int, datetime]]) -> None:
    """``app.timers.schedule`` for several (kind, level, due) of one ticket in one statement:
    the same upsert (a timer that fired or was cancelled is re-armed), one round trip."""
    if not timers:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in _UPSERTS:
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Timer.__table__)
        _UPSERTS[dialect] = insert.on_conflict_do_update(index_elements=list(KEY_COLUMNS), set_={
            "due_at": insert.excluded.due_at, "state": "pending", "attempts": 0, "last_error": None,
            "fired_at": None})
    now = utcnow()
    session.execute(_UPSERTS[dialect], [
        {"subject_type": SUBJECT, "subject_id": str(ticket.id), "kind": kind, "level": level, "due_at": due,
         "state": "pending", "attempts": 0, "created_at": now} for kind, level, due in timers])


def _response_timers(ticket: Ticket, cal: Calendar) -> list[tuple[str, int, datetime]]:
    """Escalation timers for the levels not reached yet: level 1 at the response target,
    level 2 at twice the target."""
    if ticket.response_due_at is None:
        return []
    dues = {1: ticket.response_due_at, 2: cal.add(ticket.response_due_at, ticket.response_minutes * 60)}
    return [(RESPONSE_KIND, level, dues[level]) for level in ESCALATION_LEVELS if level > ticket.escalation_level]


def _resolution_timers(ticket: Ticket) -> list[tuple[str, int, datetime]]:
    if ticket.resolution_due_at is not None and not ticket.resolution_breached:
        return [(RESOLUTION_KIND, 1, ticket.resolution_due_at)]
    return []


def _arm_response(session: Session, ticket: Ticket, cal: Calendar) -> None:
    _schedule(session, ticket, _response_timers(ticket, cal))


def _arm_resolution(session: Session, ticket: Ticket) -> None:
    _schedule(session, ticket, _resolution_timers(ticket))


def _cancel(session: Session, ticket: Ticket, kind: str | None = None) -> None:
    cancel(session, subject_type=SUBJECT, subject_id=ticket.id, kind=kind)


def _respond(session: Session, ticket: Ticket, now: datetime) -> bool:
    """Record a response; True when it is late. An escalation already fired makes it late,
    so a ticket is never both answered in time and escalated."""
    late = ticket.escalation_level > 0 or (ticket.response_due_at is not None and now > ticket.response_due_at)
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        ticket.response_breached = ticket.response_breached or late
    _cancel(session, ticket, RESPONSE_KIND)
    return late


def _pause(session: Session, ticket: Ticket, now: datetime) -> None:
    """Store the remaining (working) time of the running clocks and cancel their timers."""
    cal = ticket_calendar(session, ticket)
    ticket.paused_at = now
    ticket.paused_from_status = ticket.status
    if ticket.status in RESPONSE_PENDING and ticket.response_due_at is not None:
        ticket.response_remaining_seconds = max(0, int(cal.seconds_between(now, ticket.response_due_at)))
        _cancel(session, ticket, RESPONSE_KIND)
    if ticket.resolution_due_at is not None and not ticket.resolution_breached:
        ticket.resolution_remaining_seconds = max(0, int(cal.seconds_between(now, ticket.resolution_due_at)))
        _cancel(session, ticket, RESOLUTION_KIND)


def _resume(session: Session, ticket: Ticket, now: datetime) -> None:
    """New due times from the stored remaining time; timers rescheduled."""
    cal = ticket_calendar(session, ticket)
    if ticket.response_remaining_seconds is not None:
        ticket.response_due_at = cal.add(now, ticket.response_remaining_seconds)
        ticket.response_remaining_seconds = None
        _arm_response(session, ticket, cal)
    if ticket.resolution_remaining_seconds is not None:
        ticket.resolution_due_at = cal.add(now, ticket.resolution_remaining_seconds)
        ticket.resolution_remaining_seconds = None
        _arm_resolution(session, ticket)
    ticket.paused_at = None
    ticket.paused_from_status = None


def _touch(ticket: Ticket, now: datetime) -> None:
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


# ---------------------------------------------------------------- events and photos


def new_event(ticket: Ticket, principal: Principal | None, action: str, *, at: datetime,
              from_status: str | None = None, to_status: str | None = None, note: str | None = None,
              data: dict[str, Any] | None = None) -> TicketEvent:
    """An event of ``ticket`` (not added to the session)."""
    kind = principal.kind if principal is not None and principal.kind in ("resident", "staff") else "system"
    return TicketEvent(
        ticket_id=ticket.id, at=at, actor_kind=kind,
        actor_account_id=principal.account_id if principal is not None else None,
        actor_org_id=principal.org_id if principal is not None and principal.is_staff else None,
        action=action, from_status=from_status, to_status=to_status, note=note, data=data or {},
    )


def add_event(session: Session, ticket: Ticket, principal: Principal | None, action: str, *, at: datetime,
              from_status: str | None = None, to_status: str | None = None, note: str | None = None,
              data: dict[str, Any] | None = None) -> TicketEvent:
    event = new_event(ticket, principal, action, at=at, from_status=from_status, to_status=to_status, note=note,
                      data=data)
    session.add(event)
    session.flush()
    return event


def _photo_count(session: Session, ticket: Ticket, stage: str) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(TicketPhoto).where(
        TicketPhoto.ticket_id == ticket.id, TicketPhoto.stage == stage)) or 0


def _attach(session: Session, ticket: Ticket, *, public_ids: list[str] | None, principal: Principal,
            stage: str, event: TicketEvent | None, config: WorkflowConfig, now: datetime) -> list[Upload]:
    """Attach the caller's own uploads (claim_photos refuses anyone else's) within the limit."""
    public_ids = list(public_ids or [])
    if not public_ids:
        return []
    existing = _photo_count(session, ticket, stage)
    uploads = claim_photos(session, public_ids=public_ids, owner_account_id=principal.account_id,
                           max_count=max(config.max_photos - existing, 0))
    already = set(session.scalars(sa.select(TicketPhoto.upload_id).where(TicketPhoto.ticket_id == ticket.id)))
    if already & {u.id for u in uploads}:
        raise ApiError("validation_error", errors={"photos": ["该照片已添加到此工单。"]})
    for i, upload in enumerate(uploads):
        session.add(TicketPhoto(ticket_id=ticket.id, upload_id=upload.id, stage=stage,
                                event_id=event.id if event else None, added_by_account_id=principal.account_id,
                                position=existing + i, created_at=now))
    session.flush()
    return uploads


def _check_text(config: WorkflowConfig, text: str | None, name: str = "text", *, required: bool = True) -> str | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise ApiError("validation_error", errors={name: ["不能为空。"]})
        return None
    if len(text) > config.text_max:
        raise ApiError("text_too_long", errors={name: [f"最多 {config.text_max} 个字，当前 {len(text)} 个字。"]})
    return text


# ---------------------------------------------------------------- create


def create(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig,
           data: dict[str, Any]) -> Created:
    """File a ticket. ``data``: category, text, photos (public ids), details (already loaded by
    the scenario's schema), plus the scenario's location fields for ``config.locate``.

    Residents file; so do staff in ``config.staff_reporter_roles``. With ``config.moderated``
    the text and photos are submitted for moderation (``routing.moderate``); ``config.route``
    then sends the ticket on (at once, or when its content is cleared)."""
    if not (principal.is_resident or (principal.is_staff and principal.role in config.staff_reporter_roles)):
        raise ApiError("forbidden")
    category = data.get("category")
    if category not in config.categories:
        raise ApiError("unknown_category", errors={"category": [
            f"未知类别“{category}”，可选：{'、'.join(config.categories)}。"]})
    text = _check_text(config, data.get("text"))
    if config.photos_required and not data.get("photos"):
        raise ApiError("validation_error", errors={"photos": ["请至少添加一张现场照片。"]})
    details = data.get("details") or {}
    if config.details_schema is not None:
        details = config.details_schema().dump(details)
    elif details:
        raise ApiError("validation_error", errors={"details": ["该场景没有附加字段。"]})
    placement = config.locate(session, clock=clock, principal=principal, data=data)
    if placement.details:
        details = {**details, **placement.details}
    now = clock.now()
    policy, cal = new_ticket_terms(session, config=config, category=category, now=now)
    response_due = cal.add(now, policy.response_minutes * 60)
    resolution_due = cal.add(now, policy.resolution_minutes * 60) if policy.resolution_minutes else None
    ticket = Ticket(
        scenario=config.slug, org_id=placement.org.id, reporter_account_id=principal.account_id,
        dispatch_org_id=placement.dispatcher.id if placement.dispatcher is not None else None,
        subject_person_id=placement.subject_person_id or principal.person_id,
        community_id=placement.community_id, building_id=placement.building_id, room=placement.room,
        village_id=placement.village_id, house_number=placement.house_number, lat=placement.lat,
        lon=placement.lon, address=placement.address, category=category, text=text, status="submitted",
        is_open=True, priority=data.get("priority") or "normal", details=details, moderation_state="visible",
        sla_policy_id=policy.id, response_minutes=policy.response_minutes,
        resolution_minutes=policy.resolution_minutes, calendar=policy.calendar, response_due_at=response_due,
        resolution_due_at=resolution_due, due_at=response_due, escalation_level=0, reopen_count=0,
        response_breached=False, resolution_breached=False, version=1, created_at=now, updated_at=now,
    )
    event = new_event(ticket, principal, "create", at=now, to_status="submitted")
    timers = _response_timers(ticket, cal) + _resolution_timers(ticket)
    number_head = f"{config.number_prefix}{now.astimezone(CST):%Y%m%d}"
    if not file_ticket(session, ticket, event, timers, number_head=number_head, subject_type=SUBJECT):
        session.add(ticket)  # not PostgreSQL: the same rows through the ORM
        session.flush()
        ticket.number = f"{number_head}{ticket.id:06d}"
        event.ticket_id = ticket.id
        session.add(event)
        session.flush()
        _schedule(session, ticket, timers)
    uploads = _attach(session, ticket, public_ids=data.get("photos"), principal=principal, stage="report",
                      event=event, config=config, now=now)
    if config.moderated:
        from scenarios.engines.workflow.routing import moderate

        moderate(session, clock=clock, ticket=ticket, text=text, uploads=uploads)
    duplicates = find_duplicates(session, config=config, ticket=ticket)
    if not tell_org_staff(session, clock, ticket, key="created", template="wf.ticket_created",
                          roles=config.manager_roles, config=config):  # PostgreSQL: one statement
        notify.tell(session, clock, ticket, key="created", template="wf.ticket_created",
                    recipients=notify.org_staff(session, ticket.org_id, config.manager_roles), config=config)
    events = [event]
    if config.route is not None and ticket.moderation_state == "visible":
        from scenarios.engines.workflow.routing import route_ticket

        routed = route_ticket(session, clock=clock, config=config, ticket=ticket)
        if routed is not None:
            events.append(routed)
    session.flush()
    return Created(ticket, duplicates, events=events, photos=[("report", u) for u in uploads], placement=placement)


_SAME_BUILDING: list[sa.Select] = []


def _open_alike() -> sa.Select:
    """Other open tickets of the same scenario and category (parameters ``scenario``,
    ``category``, ``ticket_id``)."""
    return sa.select(Ticket.id, Ticket.number, Ticket.lat, Ticket.lon).where(
        Ticket.scenario == sa.bindparam("scenario"), Ticket.category == sa.bindparam("category"),
        Ticket.is_open.is_(True), Ticket.id != sa.bindparam("ticket_id"))


def find_duplicates(session: Session, *, config: WorkflowConfig, ticket: Ticket) -> list[dict[str, Any]]:
    """Open tickets of the same scenario and category in the same building (or within
    ``config.duplicate_radius_m`` of the same coordinates): ids and numbers only."""
    params = {"scenario": config.slug, "category": ticket.category, "ticket_id": ticket.id}
    if ticket.building_id is not None:
        if not _SAME_BUILDING:  # the hot path of filing: built once
            _SAME_BUILDING.append(_open_alike().where(Ticket.building_id == sa.bindparam("building_id"))
                                  .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(MAX_DUPLICATE_HINTS))
        rows = session.execute(_SAME_BUILDING[0], {**params, "building_id": ticket.building_id}).all()
        return [{"id": r.id, "number": r.number} for r in rows]
    if ticket.lat is not None and ticket.lon is not None:
        min_lat, min_lon, max_lat, max_lon = bounding_box(ticket.lat, ticket.lon, config.duplicate_radius_m)
        rows = session.execute(_open_alike().where(Ticket.lat.between(min_lat, max_lat),
                                                   Ticket.lon.between(min_lon, max_lon))
                               .order_by(Ticket.created_at.desc()).limit(200), params).all()
        near = [r for r in rows if haversine_m(ticket.lat, ticket.lon, r.lat, r.lon) <= config.duplicate_radius_m]
        return [{"id": r.id, "number": r.number} for r in near[:MAX_DUPLICATE_HINTS]]
    return []


# ---------------------------------------------------------------- transitions

Check = Callable[[Ticket, datetime], None]
Apply = Callable[[Ticket, datetime], None]
After = Callable[[Ticket, TicketEvent, datetime], None]


def _locked(session: Session, principal: Principal, config: WorkflowConfig, ticket_id: int) -> tuple[Ticket, Access]:
    ticket = lock_ticket(session, ticket_id)
    return ticket, access_to(session, principal, ticket, config)  # type: ignore[return-value]


def _perform(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket: Ticket,
             access: Access, action: str, note: str | None = None, expected_version: int | None = None,
             check: Check | None = None, apply: Apply | None = None, after: After | None = None,
             data: dict[str, Any] | None = None) -> TicketEvent:
    """One transition on a locked ticket: 403 → 412 → 409 → checks, then the change."""
    tr: Transition = config.table[action]
    if not access.actors & tr.actors:
        raise ApiError("forbidden")
    check_version(ticket, expected_version)
    if ticket.status not in tr.sources:
        raise invalid(ticket, action)
    now = clock.now()
    if check is not None:
        check(ticket, now)
    from_status = ticket.status
    target = tr.target or ticket.paused_from_status or "acknowledged"
    data = dict(data or {})
    if tr.responds and from_status in RESPONSE_PENDING:
        data["late"] = _respond(session, ticket, now)
    if tr.pauses:
        _pause(session, ticket, now)
    if tr.resumes:
        _resume(session, ticket, now)
    ticket.status = target
    if apply is not None:
        apply(ticket, now)
    if target in FINAL_STATUSES or target == "resolved":
        _cancel(session, ticket)  # every clock stops
    if target == "closed":
        ticket.closed_at = now
    _touch(ticket, now)
    event = add_event(session, ticket, principal, action, at=now, from_status=from_status, to_status=target,
                      note=note, data=data)
    if after is not None:
        after(ticket, event, now)
    _announce(session, clock, config, ticket, event)
    session.flush()
    return event


# Who hears of which transition (beyond escalations and new tickets).
_TOLD: dict[str, tuple[str, str]] = {
    "acknowledge": ("wf.ticket_acknowledged", "reporter"),
    "assign": ("wf.ticket_assigned", "reporter+assignee"),
    "request_info": ("wf.info_requested", "reporter"),
    "provide_info": ("wf.info_provided", "handlers"),
    "resolve": ("wf.ticket_resolved", "reporter"),
    "reject": ("wf.ticket_rejected", "reporter"),
    "mark_duplicate": ("wf.ticket_duplicate", "reporter"),
    "reopen": ("wf.ticket_reopened", "handlers"),
}


def _announce(session: Session, clock: Clock, config: WorkflowConfig, ticket: Ticket, event: TicketEvent) -> None:
    told = _TOLD.get(event.action)
    if told is None:
        return
    template, who = told
    recipients = []
    if "reporter" in who:
        recipients += notify.reporter(ticket)
    if "assignee" in who and ticket.assignee_account_id:
        recipients.append(notify.Recipient.account(ticket.assignee_account_id))
    if who == "handlers":
        recipients = ([notify.Recipient.account(ticket.assignee_account_id)] if ticket.assignee_account_id
                      else notify.org_staff(session, ticket.org_id, config.manager_roles))
    notify.tell(session, clock, ticket, key=f"ev:{event.id}", template=template, recipients=recipients,
                config=config, action=event.action)


def transition(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
               action: str, note: str | None = None, expected_version: int | None = None) -> Ticket:
    """A plain transition (no extra fields): start, request_info, provide_info, resume, confirm, close."""
    if action not in config.table:
        raise ApiError("not_found")
    ticket, access = _locked(session, principal, config, ticket_id)
    note = _check_text(config, note, "note", required=False)
    _perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
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
    return account_id in notify.members_with(session, org_id, config.assignee_roles) if account_id else False


def assign(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
           assignee_account_id: int, note: str | None = None, expected_version: int | None = None) -> Ticket:
    """Assign to a technician (``config.assignee_roles``) of the owning organisation only."""
    ticket, access = _locked(session, principal, config, ticket_id)
    note = _check_text(config, note, "note", required=False)

    def check(t: Ticket, now: datetime) -> None:
        if not is_assignable(session, config=config, org_id=t.org_id, account_id=assignee_account_id):
            raise ApiError("assignee_not_in_org", errors={"assignee_account_id": [
                "只能指派给本单位的在岗维修人员。"]})

    def apply(t: Ticket, now: datetime) -> None:
        t.assignee_account_id = assignee_account_id

    _perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="assign", note=note, expected_version=expected_version, check=check, apply=apply,
             data={"assignee_account_id": assignee_account_id})
    return ticket


def request_info(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
                 note: str, expected_version: int | None = None) -> Ticket:
    """Ask the reporter something: the ticket waits and its clock is paused."""
    ticket, access = _locked(session, principal, config, ticket_id)
    note = _check_text(config, note, "note")
    _perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="request_info", note=note, expected_version=expected_version)
    return ticket


def resume(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
           note: str | None = None, expected_version: int | None = None) -> Ticket:
    return transition(session, clock=clock, principal=principal, config=config, ticket_id=ticket_id,
                      action="resume", note=note, expected_version=expected_version)


def resolve(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
            note: str, photos: list[str] | None = None, expected_version: int | None = None) -> Ticket:
    """Resolved, with a note and (the resolver's own) photos; the reporter is told."""
    ticket, access = _locked(session, principal, config, ticket_id)
    note = _check_text(config, note, "note")

    def apply(t: Ticket, now: datetime) -> None:
        t.resolved_at = now
        if t.resolution_due_at is not None and now > t.resolution_due_at:
            t.resolution_breached = True

    def after(t: Ticket, event: TicketEvent, now: datetime) -> None:
        _attach(session, t, public_ids=photos, principal=principal, stage="resolution", event=event,
                config=config, now=now)

    _perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="resolve", note=note, expected_version=expected_version, apply=apply, after=after)
    return ticket


def reject(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
           reason: str, expected_version: int | None = None) -> Ticket:
    ticket, access = _locked(session, principal, config, ticket_id)
    reason = _check_text(config, reason, "reason")
    _perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="reject", note=reason, expected_version=expected_version)
    return ticket


def mark_duplicate(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig,
                   ticket_id: int, duplicate_of: int, note: str | None = None,
                   expected_version: int | None = None) -> Ticket:
    """Close as a duplicate of another ticket of the same organisation; both trails link."""
    ticket, access = _locked(session, principal, config, ticket_id)
    note = _check_text(config, note, "note", required=False)
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
        add_event(session, original[0], principal, "duplicate_linked", at=now,
                  data={"ticket_id": t.id, "number": t.number})

    _perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="mark_duplicate", note=note, expected_version=expected_version, check=check, apply=apply,
             after=after, data={"duplicate_of": duplicate_of})
    return ticket


def reopen(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
           reason: str, expected_version: int | None = None) -> Ticket:
    """The reporter reopens within ``config.reopen_days`` of the resolution: the clocks restart."""
    ticket, access = _locked(session, principal, config, ticket_id)
    reason = _check_text(config, reason, "reason")

    def check(t: Ticket, now: datetime) -> None:
        if t.resolved_at is None or now - t.resolved_at > timedelta(days=config.reopen_days):
            raise ApiError("reopen_window_passed", detail={"reopen_days": config.reopen_days})

    def apply(t: Ticket, now: datetime) -> None:
        cal = ticket_calendar(session, t)
        t.reopen_count += 1
        t.escalation_level = 0
        t.resolved_at = None
        t.closed_at = None
        t.response_due_at = cal.add(now, t.response_minutes * 60)
        t.resolution_due_at = cal.add(now, t.resolution_minutes * 60) if t.resolution_minutes else None
        t.resolution_breached = False
        _schedule(session, t, _response_timers(t, cal) + _resolution_timers(t))

    _perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
             action="reopen", note=reason, expected_version=expected_version, check=check, apply=apply)
    return ticket


# ---------------------------------------------------------------- comments and ratings


def comment(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
            text: str | None, photos: list[str] | None = None, expected_version: int | None = None) -> Ticket:
    """A note (and photos) from the reporter or a member of the owning organisation.

    A reporter's comment on a ticket waiting for them also answers it (``provide_info``).
    """
    ticket, access = _locked(session, principal, config, ticket_id)
    if not access.can_act:
        raise ApiError("forbidden")
    check_version(ticket, expected_version)
    if ticket.status in FINAL_STATUSES:
        raise invalid(ticket, "comment")
    text = _check_text(config, text, "text", required=not photos)
    now = clock.now()
    reporter = REPORTER in access.actors
    if reporter and ticket.status == "awaiting_reporter" and "provide_info" in config.table:
        event = _perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
                         action="provide_info", note=text)
    else:
        _touch(ticket, now)
        event = add_event(session, ticket, principal, "comment", at=now, note=text)
    _attach(session, ticket, public_ids=photos, principal=principal, stage="report" if reporter else "resolution",
            event=event, config=config, now=now)
    session.flush()
    return ticket


def rate(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
         rating: int, comment: str | None = None, expected_version: int | None = None) -> Ticket:
    """The reporter rates a resolved or closed ticket once, 1–5, with an optional comment."""
    ticket, access = _locked(session, principal, config, ticket_id)
    if REPORTER not in access.actors:
        raise ApiError("forbidden")
    check_version(ticket, expected_version)
    if ticket.status not in ("resolved", "closed"):
        raise invalid(ticket, "rate")
    if ticket.rating is not None:
        raise ApiError("already_rated", detail={"rating": ticket.rating})
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ApiError("validation_error", errors={"rating": ["评分须为 1 到 5 的整数。"]})
    comment = _check_text(config, comment, "comment", required=False)
    now = clock.now()
    ticket.rating, ticket.rating_comment, ticket.rated_at = rating, comment, now
    _touch(ticket, now)
    add_event(session, ticket, principal, "rate", at=now, note=comment, data={"rating": rating})
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
          assignee: str | int | None = None, dispatched: bool = False) -> sa.Select:
    """The acting organisation's tickets, soonest deadline first (open ones unless ``status``).

    ``community``: a community's code; ``assignee``: ``"me"`` or an account id; ``due_soon``: due
    within the scenario's due-soon window (``due_within_minutes`` wins when both are given).
    ``dispatched``: the tickets the organisation routed, wherever they are now. A scoped role
    (a road chief) gets the tickets assigned to them. Tickets whose content waits for
    moderation show only at their dispatcher (they are not routed before it is cleared).
    """
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
    return stmt.order_by(Ticket.due_at.asc().nulls_last(), Ticket.id)


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
    ids = notify.members_with(session, principal.org_id, config.assignee_roles)
    if not ids:
        return []
    return list(session.scalars(sa.select(Membership).where(
        Membership.organisation_id == principal.org_id, Membership.account_id.in_(ids))
        .order_by(Membership.account_id)))
