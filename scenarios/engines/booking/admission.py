"""Check-in at the owning organisation's gate: a booking's pass, or the resident's personal code.

A pass admits up to the booking's places (one conditional update per entry: ``checked_in <
places``), only at the organisation that owns the resource (another's gate:
``pass_wrong_venue``). A personal code (``config.personal_code_entry``, 一码通行) admits the
holder's booking at this organisation whose window is now, or answers ``no_booking_now``.
Staff of the owning organisation in ``checkin_roles`` and its devices whose kind may admit
the scenario's passes (``qr.admission``) check people in; every scan is recorded by ``qr``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.clock import Clock
from app.errors import ApiError
from auth.principal import Principal
from qr.admission import current_admission
from qr.models import PERSONAL_PURPOSE
from qr.service import Scanner, Verified, verify
from qr.tokens import QrError
from scenarios.engines.booking import capacity
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot


@dataclass(frozen=True)
class Admitted:
    booking: BkBooking
    slot: BkSlot
    resource: BkResource
    via: str  # pass | personal_code
    person_name: str | None = None  # read along with the personal code (PostgreSQL), else None


def scanner_of(principal: Principal, config: BookingConfig) -> tuple[Scanner, set[str]]:
    """The caller as a scanner and the purposes it admits here; 403 for those who may not."""
    admission = current_admission()
    if principal.is_device:
        allowed = admission.for_device(principal.org_type, principal.device_kind)
        scanner = Scanner("device", principal.device_id)
    elif principal.is_staff and principal.role in config.checkin_roles:
        allowed = admission.for_staff(principal.org_type)
        scanner = Scanner("staff", principal.account_id)
    else:
        raise ApiError("forbidden")
    purposes = {config.pass_purpose} & set(allowed)
    if config.personal_code_entry and PERSONAL_PURPOSE in allowed:
        purposes.add(PERSONAL_PURPOSE)
    if config.pass_purpose not in purposes:
        raise ApiError("forbidden")
    return scanner, purposes


def _booking_of_pass(session: Session, config: BookingConfig, result: Verified) -> BkBooking | None:
    kind, _, number = (result.ref or "").partition(":")
    if kind != "booking" or not number.isdigit():
        return None
    booking = session.get(BkBooking, int(number))
    return booking if booking is not None and booking.scenario == config.slug else None


@cache
def _booking_now_statement() -> sa.Select:
    """Built once (the gate is hot): the holder's booking at this organisation whose window is now."""
    return (sa.select(BkBooking, BkSlot, BkResource).join(BkSlot, BkSlot.id == BkBooking.slot_id)
            .join(BkResource, BkResource.id == BkBooking.resource_id)
            .where(BkBooking.person_id == sa.bindparam("person_id"), BkBooking.scenario == sa.bindparam("slug"),
                   BkBooking.status.in_(("confirmed", "checked_in")), BkBooking.checked_in < BkBooking.places,
                   BkResource.owner_org_id == sa.bindparam("org_id"),
                   BkSlot.starts_at <= sa.bindparam("latest_start", type_=BkSlot.starts_at.type),
                   BkSlot.ends_at > sa.bindparam("now", type_=BkSlot.ends_at.type))
            .order_by(BkSlot.starts_at).limit(1))


def _booking_now(session: Session, config: BookingConfig, org_id: int, person_id: int, now
                 ) -> tuple[BkBooking, BkSlot, BkResource] | None:
    row = session.execute(_booking_now_statement(), {
        "person_id": person_id, "slug": config.slug, "org_id": org_id, "now": now,
        "latest_start": now + timedelta(minutes=config.early_entry_minutes)}).first()
    return (row[0], row[1], row[2]) if row else None  # held here: the session's identity map is weak


def check_in(session: Session, *, booking_id: int, now: datetime) -> sa.Row | None:
    """One more of a booking's places taken — a pass scanned here, or an arrival a scenario
    recognises its own way (a car park's camera reading the plate): the booking's new
    ``(checked_in, status, updated_at)``, or None when it is not active or all its places are
    taken. One statement, so arrivals at once never take more places than were booked."""
    b = capacity.BOOKINGS
    return session.execute(sa.update(b).where(
        b.c.id == booking_id, b.c.status.in_(("confirmed", "checked_in")), b.c.checked_in < b.c.places)
        .values(checked_in=b.c.checked_in + 1, status="checked_in", updated_at=now)
        .returning(b.c.checked_in, b.c.status, b.c.updated_at)).first()


def admit(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig, token: str) -> Admitted:
    """Admit one person by a scanned code, or raise (the scan's record is in the session: the
    caller commits before re-raising a ``QrError``)."""
    scanner, purposes = scanner_of(principal, config)
    now = clock.now()
    result = verify(session, token, clock=clock, allowed_purposes=purposes, scanner=scanner)
    if result.kind == "personal":
        found = _booking_now(session, config, principal.org_id, result.holder.id, now) \
            if result.holder is not None and result.holder.type == "person" else None
        if found is None:
            raise ApiError("no_booking_now")
        booking, slot, resource = found
        via = "personal_code"
        name = result.holder_facts[0] if result.holder_facts is not None else None
    else:
        booking = _booking_of_pass(session, config, result)
        if booking is None:
            raise QrError("qr_revoked")
        slot, resource = session.get(BkSlot, booking.slot_id), session.get(BkResource, booking.resource_id)
        via, name = "pass", None
    if resource.owner_org_id != principal.org_id:
        raise ApiError("pass_wrong_venue")
    entered = check_in(session, booking_id=booking.id, now=now)
    if entered is None:
        session.refresh(booking)
        if booking.status in ("confirmed", "checked_in"):
            raise ApiError("pass_used_up", detail={"admitted": booking.checked_in, "places": booking.places})
        raise ApiError("booking_not_active", detail={"status": booking.status})
    for name in ("checked_in", "status", "updated_at"):
        set_committed_value(booking, name, getattr(entered, name))
    return Admitted(booking, slot, resource, via, name)
