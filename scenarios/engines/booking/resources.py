"""Resources and what is read about them: creation by the owning organisation's managers,
availability for residents (expired holds counted free), occupancy per day for staff."""
from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.fields import to_cst_iso
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.booking import capacity, slots
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import BkOpeningRule, BkResource, BkSlot
from scenarios.engines.booking.service import _day_bounds, local_day

CODE_RE = re.compile(r"[a-z0-9][a-z0-9-]{2,39}")
MAX_AVAILABILITY_DAYS = 14


def load_resource(session: Session, code: Any) -> BkResource | None:
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        return None
    return session.scalar(sa.select(BkResource).where(BkResource.code == code))


def create(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig, name: str, kind: str,
           capacity: int, slot_minutes: int, calendar: str, address: str, hours: list[dict],
           lat: float | None = None, lon: float | None = None, code: str | None = None,
           price_fen: int | None = None) -> BkResource:
    """A resource of the caller's acting organisation (its managers), with its weekly hours;
    its slots are made at once for the scenario's window."""
    if not (principal.is_staff and principal.org_type in config.owner_types
            and principal.role in config.manager_roles):
        raise ApiError("forbidden")
    if kind == "unit" and capacity != 1:
        raise ApiError("validation_error", errors={"capacity": ["整场预订的场地容量为 1。"]})
    code = code or f"{config.slug[:12]}-{secrets.token_hex(4)}"
    if session.scalar(sa.select(BkResource.id).where(BkResource.code == code)) is not None:
        raise ApiError("resource_code_taken", errors={"code": ["编号已被使用。"]})
    now = clock.now()
    resource = BkResource(scenario=config.slug, code=code, name=name, kind=kind, owner_org_id=principal.org_id,
                          address=address, lat=lat, lon=lon, capacity=capacity, slot_minutes=slot_minutes,
                          calendar=calendar, active=True, attributes={}, price_fen=price_fen, created_at=now)
    session.add(resource)
    session.flush()
    for h in hours:
        session.add(BkOpeningRule(resource_id=resource.id, weekday=h["weekday"], opens_minute=h["opens_minute"],
                                  closes_minute=h["closes_minute"], label=h.get("label")))
    session.flush()
    slots.generate(session, resource, first=local_day(now), days=config.window_days)
    return resource


def set_hours(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig,
              resource: BkResource, hours: list[dict]) -> int:
    """Replace the weekly hours (the owner's managers). Slots already made stay as they are (close
    those that must go: their bookings are told); the new hours make the slots the window still
    lacks. Returns how many slots were made."""
    from scenarios.engines.booking.service import require_manager

    require_manager(principal, config, resource)
    session.execute(sa.delete(BkOpeningRule).where(BkOpeningRule.resource_id == resource.id))
    for h in hours:
        session.add(BkOpeningRule(resource_id=resource.id, weekday=h["weekday"], opens_minute=h["opens_minute"],
                                  closes_minute=h["closes_minute"], label=h.get("label")))
    session.flush()
    return slots.generate(session, resource, first=local_day(clock.now()), days=config.window_days)


def listed(config: BookingConfig, owner: str | None = None) -> sa.Select:
    stmt = sa.select(BkResource).where(BkResource.scenario == config.slug, BkResource.active.is_(True))
    if owner:
        stmt = stmt.join(Organisation, Organisation.id == BkResource.owner_org_id).where(Organisation.code == owner)
    return stmt.order_by(BkResource.id)


@cache
def _availability_statement() -> sa.Select:
    """Built once (availability is the hottest read): open slots of a resource from ``since``
    to ``until``, free units counting holds past their expiry as free."""
    s = capacity.SLOTS
    return (sa.select(s.c.id, s.c.starts_at, s.c.ends_at, s.c.capacity, s.c.label,
                      (s.c.capacity - s.c.booked - s.c.held + capacity.stale_holds()).label("free"))
            .where(s.c.resource_id == sa.bindparam("resource_id"), s.c.status == "open",
                   s.c.starts_at >= sa.bindparam("since", type_=s.c.starts_at.type),
                   s.c.starts_at < sa.bindparam("until", type_=s.c.starts_at.type))
            .order_by(s.c.starts_at))


def availability(session: Session, resource: BkResource, *, now: datetime, first: date | None, days: int
                 ) -> list[dict[str, Any]]:
    """The resource's open future slots over ``days`` days: free = capacity − booked − live holds.
    Times are ISO 8601 strings in +08:00 already (the view sends the list as it is)."""
    if not 1 <= days <= MAX_AVAILABILITY_DAYS:
        raise ApiError("validation_error", errors={"days": [f"1 到 {MAX_AVAILABILITY_DAYS} 天。"]})
    first = first or local_day(now)
    start, _ = _day_bounds(first)
    rows = session.execute(_availability_statement(), {
        "resource_id": resource.id, "since": max(start, now), "until": start + timedelta(days=days), "now": now})
    return [{"slot_id": r.id, "starts_at": to_cst_iso(r.starts_at), "ends_at": to_cst_iso(r.ends_at),
             "capacity": r.capacity, "free": r.free, "label": r.label} for r in rows]


def occupancy(session: Session, *, principal: Principal, config: BookingConfig, day: date, now: datetime
              ) -> list[dict[str, Any]]:
    """Per resource of the caller's organisation, its slots of ``day`` with their counters."""
    if not principal.is_staff:
        raise ApiError("forbidden")
    start, end = _day_bounds(day)
    rows = session.execute(
        sa.select(BkResource.code, BkResource.name, BkSlot.id, BkSlot.starts_at, BkSlot.ends_at, BkSlot.capacity,
                  BkSlot.booked, BkSlot.held, BkSlot.status, capacity.stale_holds().label("stale"))
        .join(BkResource, BkResource.id == BkSlot.resource_id)
        .where(BkResource.scenario == config.slug, BkResource.owner_org_id == principal.org_id,
               BkSlot.starts_at >= start, BkSlot.starts_at < end)
        .order_by(BkResource.code, BkSlot.starts_at), {"now": now}).all()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault(r.code, {"code": r.code, "name": r.name, "booked": 0, "capacity": 0, "slots": []})
        held = r.held - r.stale
        entry["slots"].append({"slot_id": r.id, "starts_at": r.starts_at, "ends_at": r.ends_at,
                               "capacity": r.capacity, "booked": r.booked, "held": held, "status": r.status})
        entry["booked"] += r.booked
        entry["capacity"] += r.capacity if r.status == "open" else 0
    return list(out.values())


def day_bookings(session: Session, *, principal: Principal, config: BookingConfig, day: date
                 ) -> list[dict[str, Any]]:
    """The bookings (held, confirmed, checked in or ended) of the caller's organisation's
    resources on ``day``, by start time: what a venue's or hospital's desk works through."""
    from auth.models import Person
    from auth.pii import mask_name
    from scenarios.engines.booking.models import BkBooking

    if not principal.is_staff:
        raise ApiError("forbidden")
    start, end = _day_bounds(day)
    rows = session.execute(
        sa.select(BkBooking.id, BkBooking.status, BkBooking.places, BkBooking.checked_in, BkResource.code,
                  BkResource.name.label("resource_name"), BkSlot.starts_at, BkSlot.ends_at, Person.name)
        .join(BkSlot, BkSlot.id == BkBooking.slot_id).join(BkResource, BkResource.id == BkBooking.resource_id)
        .join(Person, Person.id == BkBooking.person_id)
        .where(BkResource.scenario == config.slug, BkResource.owner_org_id == principal.org_id,
               BkSlot.starts_at >= start, BkSlot.starts_at < end)
        .order_by(BkSlot.starts_at, BkResource.code, BkBooking.id)).all()
    return [{"id": r.id, "status": r.status, "places": r.places, "checked_in": r.checked_in, "resource": r.code,
             "resource_name": r.resource_name, "starts_at": r.starts_at, "ends_at": r.ends_at,
             "masked_name": mask_name(r.name)} for r in rows]
