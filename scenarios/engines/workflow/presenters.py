"""Tickets as clients see them: summaries for lists (places and organisations loaded in bulk)
and the full view with its trail, due times and photos (signed URLs, for viewers only).

The full view depends on who looks (``Access.staff_view``). The reporter never gets an
internal event (a staff note for staff only) nor the photos attached to one; staff get every
event, marked ``internal``, and the reporter's masked contact with the residence the ticket
was filed from (``reporter.residence_id``, for the audited reveal). Once a ticket is assigned
both see who is coming (``assignee``: the name residents see, else the role's title) and the
work phone: in full to the reporter until the ticket is final, masked otherwise.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.places.labels import labels
from app.storage.models import Upload
from app.storage.service import describe as describe_upload
from auth import pii
from auth.contacts import StaffContact
from auth.models import Account, Membership, Person, Residence
from auth.organisations import Organisation
from auth.roles import ROLE_TITLES
from scenarios.engines.workflow import duplicates
from scenarios.engines.workflow.access import Access
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import FINAL_STATUSES, Ticket, TicketEvent, TicketPhoto


def _by_id(session: Session, model: type, ids: set[int | None]) -> dict[int, Any]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    if len(ids) == 1:  # one ticket: often already in the session (no query)
        (only,) = ids
        row = session.get(model, only)
        return {only: row} if row is not None else {}
    return {row.id: row for row in session.scalars(sa.select(model).where(model.id.in_(ids)))}


SUMMARY_COLUMNS = (
    Ticket.id, Ticket.scenario, Ticket.number, Ticket.status, Ticket.category, Ticket.text, Ticket.priority,
    Ticket.org_id, Ticket.community_id, Ticket.building_id, Ticket.village_id, Ticket.room, Ticket.house_number,
    Ticket.lat, Ticket.lon, Ticket.address, Ticket.due_at, Ticket.escalation_level, Ticket.assignee_account_id,
    Ticket.rating, Ticket.moderation_state, Ticket.appointment_at, Ticket.created_at, Ticket.updated_at,
    Ticket.version,
)
"""What a summary shows: lists select these columns only (rows, not ORM objects)."""


def summary_rows(stmt: sa.Select) -> sa.Select:
    """A list's query of tickets reduced to the columns of a summary (same filters and order)."""
    return stmt.with_only_columns(*SUMMARY_COLUMNS)


def summaries(session: Session, tickets: Sequence[Any], *, now: datetime) -> list[dict[str, Any]]:
    """Tickets (or rows of ``SUMMARY_COLUMNS``) as list items; place and organisation names from
    ``app.places.labels`` (one query per kind for the ids a process has not seen lately)."""
    names = labels()
    orgs = names.get(session, "org", {t.org_id for t in tickets})
    communities = names.get(session, "community", {t.community_id for t in tickets})
    buildings = names.get(session, "building", {t.building_id for t in tickets})
    villages = names.get(session, "village", {t.village_id for t in tickets})
    out = []
    for t in tickets:
        org = orgs.get(t.org_id, (None, None))
        community, building, village = (communities.get(t.community_id), buildings.get(t.building_id),
                                         villages.get(t.village_id))
        out.append({
            "id": t.id, "scenario": t.scenario, "number": t.number, "status": t.status, "category": t.category,
            "text": t.text, "priority": t.priority, "org": {"code": org[0], "name": org[1]},
            "location": {
                "community_code": community[0] if community else None,
                "community_name": community[1] if community else None,
                "building": building[0] if building else None, "room": t.room,
                "village_code": village[0] if village else None,
                "village_name": village[1] if village else None,
                "house_number": t.house_number, "lat": t.lat, "lon": t.lon, "address": t.address,
            },
            "due_at": t.due_at, "overdue": t.due_at is not None and t.due_at < now,
            "escalation_level": t.escalation_level, "assignee_account_id": t.assignee_account_id,
            "rating": t.rating, "moderation_state": t.moderation_state, "appointment_at": t.appointment_at,
            "created_at": t.created_at, "updated_at": t.updated_at, "version": t.version,
        })
    return out


def full(session: Session, ticket: Ticket, access: Access, *, clock: Clock, config: WorkflowConfig,
         created: bool = False, similar_open: str | None = None, events: Sequence[TicketEvent] | None = None,
         photos: Sequence[tuple[str, Upload]] | None = None) -> dict[str, Any]:
    """The full view. ``events`` (the whole trail, in order) and ``photos`` ((stage, upload)
    in order) when the caller has them in hand (a ticket just created), else read here.
    A ticket just ``created`` carries the duplicate hint (``duplicates.hint``; nothing
    identifying) and the always empty ``possible_duplicates`` kept for older clients."""
    now = clock.now()
    out = summaries(session, [ticket], now=now)[0]
    staff_view = access.staff_view
    if events is None:
        stmt = sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
        if not staff_view:
            stmt = stmt.where(TicketEvent.internal.is_(False))
        events = list(session.scalars(stmt.order_by(TicketEvent.at, TicketEvent.id)))
    elif not staff_view:
        events = [e for e in events if not e.internal]
    event_orgs = _by_id(session, Organisation, {e.actor_org_id for e in events})
    if photos is None:
        stmt = (sa.select(TicketPhoto.stage, Upload).join(Upload, Upload.id == TicketPhoto.upload_id)
                .where(TicketPhoto.ticket_id == ticket.id))
        if not staff_view:  # not the photos of an internal note
            stmt = stmt.where(~sa.exists().where(TicketEvent.id == TicketPhoto.event_id, TicketEvent.internal))
        photos = session.execute(stmt.order_by(TicketPhoto.stage, TicketPhoto.position)).all()
    duplicate = session.get(Ticket, ticket.duplicate_of_id) if ticket.duplicate_of_id else None
    dispatcher = session.get(Organisation, ticket.dispatch_org_id) if ticket.dispatch_org_id else None
    reporter = None
    if staff_view and ticket.subject_person_id is not None:
        person = session.get(Person, ticket.subject_person_id)
        if person is not None:
            reporter = {"name": pii.mask_name(person.name), "phone": pii.mask_mobile(person.phone),
                        "residence_id": residence_of(session, ticket)}
    out.update(
        details=ticket.details or {},
        sla={
            "policy_id": ticket.sla_policy_id, "response_minutes": ticket.response_minutes,
            "resolution_minutes": ticket.resolution_minutes, "calendar": ticket.calendar,
            "response_due_at": ticket.response_due_at, "resolution_due_at": ticket.resolution_due_at,
            "due_at": ticket.due_at, "overdue": out["overdue"], "first_response_at": ticket.first_response_at,
            "response_breached": ticket.response_breached, "resolution_breached": ticket.resolution_breached,
            "paused_at": ticket.paused_at, "escalation_level": ticket.escalation_level,
        },
        events=[{
            "id": e.id, "at": e.at, "actor_kind": e.actor_kind,
            "actor_org": event_orgs[e.actor_org_id].code if e.actor_org_id in event_orgs else None,
            "actor_account_id": e.actor_account_id if staff_view and e.actor_kind == "staff" else None,
            "action": e.action, "from_status": e.from_status, "to_status": e.to_status, "note": e.note,
            "data": (e.data or {}) if staff_view else _reporter_data(e), "internal": bool(e.internal),
        } for e in events],
        photos=[{"stage": stage, **{k: v for k, v in describe_upload(upload, clock=clock).items() if k != "bytes"}}
                for stage, upload in photos],
        duplicate_of=({"id": duplicate.id, "number": duplicate.number}
                      if duplicate and (staff_view or duplicate.subject_person_id == ticket.subject_person_id)
                      else None),
        dispatch_org={"code": dispatcher.code, "name": dispatcher.name} if dispatcher else None,
        rating_comment=ticket.rating_comment, rated_at=ticket.rated_at, resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at, reopen_count=ticket.reopen_count, reporter=reporter,
        assignee=assignee(session, ticket, staff_view=staff_view),
        allowed_actions=_allowed(ticket, access, config),
    )
    if created:
        out["possible_duplicates"] = []
        out["similar_report"] = duplicates.hint(similar_open)
    return out


_LINK_KEYS = {"duplicate_linked": ("ticket_id", "number"), "mark_duplicate": ("duplicate_of",)}


def _reporter_data(event: TicketEvent) -> dict[str, Any]:
    """An event's data as its reporter sees it: a link between two tickets names neither (the
    other may be another resident's report); staff see the ids and numbers."""
    data = event.data or {}
    hidden = _LINK_KEYS.get(event.action)
    return {k: v for k, v in data.items() if k not in hidden} if hidden else data


def residence_of(session: Session, ticket: Ticket) -> int | None:
    """The id of the reporter's verified residence the ticket was filed from (its community,
    building and room), the latest when there are several; None when it was filed elsewhere."""
    if ticket.subject_person_id is None or ticket.building_id is None or ticket.room is None:
        return None
    return session.scalar(
        sa.select(Residence.id)
        .where(Residence.person_id == ticket.subject_person_id, Residence.community_id == ticket.community_id,
               Residence.building_id == ticket.building_id, Residence.room == ticket.room,
               Residence.status == "verified")
        .order_by(Residence.valid_from.desc(), Residence.id.desc()).limit(1))


def assignee(session: Session, ticket: Ticket, *, staff_view: bool) -> dict[str, Any] | None:
    """Who is coming, once the ticket is assigned: the name residents see (``StaffContact.display_name``,
    else the title of their role, in the owning organisation first), and the verified work phone: in
    full to the reporter until the ticket is final (a work number is what they must call), masked
    after that and to staff (one query)."""
    if ticket.assignee_account_id is None:
        return None
    role = (sa.select(Membership.role).where(Membership.account_id == Account.id)
            .order_by(sa.case((Membership.organisation_id == ticket.org_id, 0), else_=1), Membership.id)
            .limit(1).scalar_subquery())
    row = session.execute(
        sa.select(StaffContact.display_name, StaffContact.mobile, StaffContact.mobile_verified_at, role)
        .select_from(Account).outerjoin(StaffContact, StaffContact.account_id == Account.id)
        .where(Account.id == ticket.assignee_account_id)).one_or_none()
    if row is None:
        return None
    display_name, mobile, verified_at, role_name = row
    title = ROLE_TITLES.get(role_name or "", "工作人员")
    phone = mobile if mobile and verified_at is not None else None
    if phone is not None and (staff_view or ticket.status in FINAL_STATUSES):
        phone = pii.mask_mobile(phone)
    return {"name": display_name or title, "title": title, "phone": phone}


def _allowed(ticket: Ticket, access: Access, config: WorkflowConfig) -> list[str]:
    actions = config.table.available(ticket.status, access.actors)
    if access.can_act and ticket.status not in FINAL_STATUSES:
        actions.append("comment")
    if "reporter" in access.actors and ticket.status in ("resolved", "closed") and ticket.rating is None:
        actions.append("rate")
    if access.how == "member" and access.can_act and ticket.status not in FINAL_STATUSES:
        actions.append("priority")
        if ticket.is_open:
            actions.append("appointment")
    return actions
