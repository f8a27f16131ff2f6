"""The booking engine's services: book, confirm, cancel, reschedule, waitlist, close a slot.

Each service runs in the caller's transaction and never commits. Capacity moves only through
capacity.py (conditional updates); a booking's status only by compare-and-set on the status
the service read, so a race between two changes (a confirm and the hold's expiry, a cancel
and a no-show) has exactly one winner and the counters move once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from app.timers import cancel as cancel_timers
from app.timers import schedule_many
from auth.models import Person
from auth.principal import Principal
from auth.relations import may_act_for
from scenarios.engines.booking import capacity, passes, payment
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import (
    LIVE_STATES,
    SUBJECT,
    BkBooking,
    BkResource,
    BkSlot,
    BkWaitlistEntry,
)
from scenarios.engines.booking.notices import tell

HOLD_EXPIRY, NO_SHOW, REMINDER = "booking.hold_expiry", "booking.no_show", "booking.reminder"


@dataclass(frozen=True)
class Place:
    """A slot with its resource, as a booking sees it."""

    slot: BkSlot
    resource: BkResource


def local_day(when: datetime) -> date:
    return when.astimezone(CST).date()


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), CST)
    return start, start + timedelta(days=1)


def place_of(session: Session, slot_id: int) -> Place | None:
    row = session.execute(sa.select(BkSlot, BkResource).join(BkResource, BkResource.id == BkSlot.resource_id)
                          .where(BkSlot.id == slot_id)).first()
    return Place(row[0], row[1]) if row else None


def _slot_in_scenario(session: Session, config: BookingConfig, slot_id: int) -> Place:
    place = place_of(session, slot_id)
    if place is None or place.resource.scenario != config.slug or not place.resource.active:
        raise ApiError("slot_not_in_scenario", errors={"slot_id": [f"不是{config.title_zh}的时段。"]})
    return place


def _check_time(config: BookingConfig, slot: BkSlot, now: datetime) -> None:
    if slot.starts_at <= now:
        raise ApiError("slot_in_past", errors={"slot_id": ["该时段已开始或已结束。"]})
    if local_day(slot.starts_at) > local_day(now) + timedelta(days=config.days_ahead):
        raise ApiError("slot_too_far", errors={"slot_id": [f"最多可预约 {config.days_ahead} 天内的时段。"]})


def _check_reservable(session: Session, config: BookingConfig, place: Place, *, clock: Clock) -> None:
    if config.may_reserve is not None:
        config.may_reserve(session, clock=clock, resource=place.resource, slot=place.slot)


def _size(config: BookingConfig, resource: BkResource, places: int) -> tuple[int, int, bool]:
    """(units taken of the slot, places admitted, whole unit) for a party of ``places``."""
    if not 1 <= places <= config.max_places:
        raise ApiError("party_too_large", errors={"places": [f"每次最多 {config.max_places} 人。"]})
    if resource.kind == "unit":
        return 1, places, True
    return places, places, False


def person_for(session: Session, config: BookingConfig, principal: Principal, person_id: int | None,
               *, clock: Clock) -> Person:
    """The person booked for: the caller, or someone they may act for (``config.act_scope``)."""
    me = principal.person_id
    if me is None:
        raise ApiError("forbidden")
    target = me if person_id is None else person_id
    if target != me and not may_act_for(session, me, target, config.act_scope):
        raise ApiError("not_acting_for", errors={"person_id": ["您没有为此人预约的授权（亲友关系）。"]})
    # one person's bookings are counted one at a time (row locks; SQLite renders no FOR UPDATE: BEGIN
    # IMMEDIATE already serialises its writers)
    person = session.scalar(sa.select(Person).where(Person.id == target).with_for_update())
    if person is None:
        raise ApiError("not_acting_for", errors={"person_id": ["您没有为此人预约的授权（亲友关系）。"]})
    if config.may_book is not None:
        booker = session.get(Person, me)
        config.may_book(session, clock=clock, booker=booker, person=person)
    return person


@cache
def _limits_statement() -> sa.Select:
    """Built once (booking is hot): a person's live bookings in a scenario, counted in one
    statement three ways: on this slot, not yet over, and starting on the slot's day."""
    at = BkSlot.starts_at.type
    on_slot = BkBooking.slot_id == sa.bindparam("slot_id")
    open_now = BkSlot.ends_at > sa.bindparam("now", type_=at)
    on_day = sa.and_(BkSlot.starts_at >= sa.bindparam("day_start", type_=at),
                     BkSlot.starts_at < sa.bindparam("day_end", type_=at))
    return (sa.select(*(sa.func.count().filter(cond).label(name)
                        for name, cond in (("on_slot", on_slot), ("open_now", open_now), ("on_day", on_day))))
            .select_from(BkBooking).join(BkSlot, BkSlot.id == BkBooking.slot_id)
            .where(BkBooking.person_id == sa.bindparam("person_id"), BkBooking.scenario == sa.bindparam("slug"),
                   BkBooking.status.in_(LIVE_STATES)))


def _check_limits(session: Session, config: BookingConfig, person_id: int, slot: BkSlot, now: datetime) -> None:
    start, end = _day_bounds(local_day(slot.starts_at))
    counts = session.execute(_limits_statement(), {
        "person_id": person_id, "slug": config.slug, "slot_id": slot.id, "now": now,
        "day_start": start, "day_end": end}).one()
    if counts.on_slot:
        raise ApiError("already_booked", errors={"slot_id": ["此人已预约该时段。"]})
    if counts.open_now >= config.open_at_once:
        raise ApiError("booking_limit_reached", message=f"同时最多保留 {config.open_at_once} 个未使用的预约。")
    if counts.on_day >= config.per_person_per_day:
        raise ApiError("booking_limit_reached", message=f"每人每天最多预约 {config.per_person_per_day} 次。")


def _take_or_refuse(session: Session, slot: BkSlot, units: int, now: datetime, *, hold: bool) -> None:
    capacity.release_expired_holds(session, slot.id, now)
    if capacity.take(session, slot.id, units, now, hold=hold):
        return
    status = session.scalar(sa.select(BkSlot.status).where(BkSlot.id == slot.id))
    if status != "open":
        raise ApiError("slot_closed")
    raise ApiError("slot_full")


@dataclass(frozen=True)
class Booked:
    """A new booking with its place and person as read to make it: the answer shows them
    without reading them again (the session's identity map holds rows only while referenced)."""

    booking: BkBooking
    place: Place
    person: Person


def book(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig, slot_id: int,
         places: int = 1, person_id: int | None = None) -> BkBooking:
    """A hold (``needs_confirm``) or a confirmed booking of ``places`` on the slot."""
    return booked(session, clock=clock, principal=principal, config=config, slot_id=slot_id, places=places,
                  person_id=person_id).booking


def booked(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig, slot_id: int,
           places: int = 1, person_id: int | None = None) -> Booked:
    """``book``, answering with the place and person it read."""
    now = clock.now()
    place = _slot_in_scenario(session, config, slot_id)
    units, admits, whole = _size(config, place.resource, places)
    _check_time(config, place.slot, now)
    _check_reservable(session, config, place, clock=clock)
    person = person_for(session, config, principal, person_id, clock=clock)
    _check_limits(session, config, person.id, place.slot, now)
    hold = config.needs_confirm or payment.priced(place.resource)
    _take_or_refuse(session, place.slot, units, now, hold=hold)
    booking = BkBooking(scenario=config.slug, resource_id=place.resource.id, slot_id=place.slot.id,
                        person_id=person.id, booker_person_id=principal.person_id,
                        booker_account_id=principal.account_id, units=units, places=admits, whole_unit=whole,
                        status="held" if hold else "confirmed", checked_in=0, created_at=now, updated_at=now,
                        hold_expires_at=now + payment.hold_for(config, place.resource) if hold else None,
                        confirmed_at=None if hold else now)
    session.add(booking)
    session.flush()
    if payment.priced(place.resource):
        payment.charge(session, config, booking, place.slot, place.resource, now)
    if hold:
        schedule_many(session, subject_type=SUBJECT, subject_id=booking.id,
                      timers=[(HOLD_EXPIRY, 0, booking.hold_expires_at)])
    else:
        _on_confirmed(session, config, booking, place, clock=clock)
    return Booked(booking, place, person)


def _on_confirmed(session: Session, config: BookingConfig, booking: BkBooking, place: Place, *,
                  clock: Clock, tell_them: bool = True) -> None:
    """A confirmed booking gets its pass, its no-show and reminder timers, and its notice."""
    now = clock.now()
    booking.confirmed_at = booking.confirmed_at or now
    passes.issue(session, config, booking, place.slot, clock=clock)
    timers = [(NO_SHOW, 0, place.slot.starts_at + timedelta(minutes=config.no_show_minutes))]
    remind_at = (config.reminder_at(place.slot.starts_at) if config.reminder_at is not None
                 else place.slot.starts_at - timedelta(minutes=config.reminder_minutes)
                 if config.reminder_minutes is not None else None)
    if remind_at is not None and remind_at > now:
        timers.append((REMINDER, 0, remind_at))
    schedule_many(session, subject_type=SUBJECT, subject_id=booking.id, timers=timers)  # one statement
    if tell_them:
        tell(session, config, clock=clock, template="booking_confirmed", event="booking.confirmed",
             bookings=[(booking, place.slot, place.resource)])


def _owner_side(principal: Principal, booking: BkBooking) -> None:
    """Changes are the booker's or the booked person's (staff who see it: 403)."""
    if not principal.is_resident or principal.person_id not in (booking.person_id, booking.booker_person_id):
        raise ApiError("forbidden")


def _refresh(session: Session, booking: BkBooking) -> BkBooking:
    session.refresh(booking)
    return booking


def confirm(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig,
            booking: BkBooking) -> BkBooking:
    """Confirm a hold before it expires: 409 ``hold_expired`` after (the place is released);
    ``payment_required`` for a priced hold (paying confirms it)."""
    _owner_side(principal, booking)
    if booking.status == "confirmed":
        return booking
    if booking.status == "expired":
        raise ApiError("hold_expired")
    if booking.status != "held":
        raise ApiError("booking_not_active", detail={"status": booking.status})
    payment.require_unpriced(booking)
    if not confirm_held(session, config, booking, clock=clock):
        expire_hold(session, config, booking.id, clock=clock)
        session.flush()
        raise ApiError("hold_expired")
    return _refresh(session, booking)


def confirm_held(session: Session, config: BookingConfig, booking: BkBooking, *, clock: Clock,
                 before_expiry: bool = True) -> bool:
    """Hold → confirmed (compare-and-set): its pass, timers and notice. ``before_expiry=False``
    (a payment booked): a hold past its time still counts while it is held. False: not a hold
    (any more)."""
    now = clock.now()
    still = [capacity.BOOKINGS.c.hold_expires_at > now] if before_expiry else []
    won = session.execute(sa.update(capacity.BOOKINGS).where(
        capacity.BOOKINGS.c.id == booking.id, capacity.BOOKINGS.c.status == "held", *still)
        .values(status="confirmed", confirmed_at=now, updated_at=now, hold_expires_at=None)).rowcount == 1
    if not won:
        return False
    capacity.hold_to_booked(session, booking.slot_id, booking.units)
    cancel_timers(session, subject_type=SUBJECT, subject_id=booking.id, kind=HOLD_EXPIRY)
    session.execute(sa.update(BkWaitlistEntry).where(BkWaitlistEntry.booking_id == booking.id)
                    .values(status="booked"))
    booking = _refresh(session, booking)
    _on_confirmed(session, config, booking, place_of(session, booking.slot_id), clock=clock)
    return True


def expire_hold(session: Session, config: BookingConfig | None, booking_id: int, *, clock: Clock) -> bool:
    """Expire one hold past its time (the timer, or a confirm that came late); offers the place
    to the waitlist. False when it was no longer a hold past its time."""
    now = clock.now()
    row = session.execute(sa.update(capacity.BOOKINGS).where(
        capacity.BOOKINGS.c.id == booking_id, capacity.BOOKINGS.c.status == "held",
        capacity.BOOKINGS.c.hold_expires_at <= now).values(status="expired", ended_at=now, updated_at=now,
                                                            end_reason="hold_expired")
        .returning(capacity.BOOKINGS.c.slot_id, capacity.BOOKINGS.c.units)).first()
    if row is None:
        return False
    capacity.give_back(session, row.slot_id, row.units, held=True)
    session.execute(sa.update(BkWaitlistEntry).where(BkWaitlistEntry.booking_id == booking_id)
                    .values(status="expired"))
    if config is not None:
        offer_next(session, config, row.slot_id, clock=clock)
    return True


def _end(session: Session, booking: BkBooking, *, status: str, reason: str, clock: Clock) -> bool:
    """Move a live booking to an end state (compare-and-set) and give its units back."""
    now = clock.now()
    expected = booking.status
    if expected not in ("held", "confirmed"):
        return False
    if not capacity.move_status(session, booking.id, expected, now, status=status, ended_at=now, end_reason=reason):
        return False
    capacity.give_back(session, booking.slot_id, booking.units, held=expected == "held")
    passes.revoke(session, booking, clock=clock, reason=reason)
    cancel_timers(session, subject_type=SUBJECT, subject_id=booking.id)
    payment.ended(session, booking, reason=reason, now=now)
    return True


def end_for_erasure(session: Session, booking: BkBooking, *, clock: Clock) -> bool:
    """The person cancelled their account: the booking ends whatever the notice rule, its place
    is free and its pass revoked (nobody is told: there is nobody to tell)."""
    return _end(session, booking, status="cancelled", reason="account_cancelled", clock=clock)


def _check_notice(config: BookingConfig, booking: BkBooking, slot: BkSlot, now: datetime) -> None:
    if booking.status == "confirmed" and now > config.cancel_deadline(slot.starts_at):
        deadline = config.cancel_deadline(slot.starts_at).astimezone(CST).strftime("%m月%d日 %H:%M")
        raise ApiError("cancel_too_late", message=f"{config.cancel_rule_zh}（本次截止于 {deadline}）。",
                       detail={"deadline": config.cancel_deadline(slot.starts_at).isoformat()})


def cancel(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig, booking: BkBooking,
           reason: str | None = None) -> BkBooking:
    """Cancel a hold or a confirmed booking (within the notice rule); the pass is revoked and
    the place offered to the waitlist."""
    _owner_side(principal, booking)
    if booking.status not in ("held", "confirmed"):
        raise ApiError("booking_not_active", detail={"status": booking.status})
    place = place_of(session, booking.slot_id)
    _check_notice(config, booking, place.slot, clock.now())
    if not _end(session, booking, status="cancelled", reason=(reason or "cancelled_by_booker")[:200], clock=clock):
        raise ApiError("conflict")
    session.execute(sa.update(BkWaitlistEntry).where(BkWaitlistEntry.booking_id == booking.id)
                    .values(status="cancelled"))
    offer_next(session, config, booking.slot_id, clock=clock)
    return _refresh(session, booking)


def reschedule(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig,
               booking: BkBooking, slot_id: int) -> BkBooking:
    """改约: take the new slot and release the old one in this one transaction, or change nothing."""
    _owner_side(principal, booking)
    now = clock.now()
    if booking.status not in ("held", "confirmed"):
        raise ApiError("booking_not_active", detail={"status": booking.status})
    if slot_id == booking.slot_id:
        raise ApiError("validation_error", errors={"slot_id": ["新时段与原时段相同。"]})
    old = place_of(session, booking.slot_id)
    _check_notice(config, booking, old.slot, now)
    new = _slot_in_scenario(session, config, slot_id)
    if (new.resource.kind == "unit") != booking.whole_unit:
        raise ApiError("validation_error", errors={"slot_id": ["新时段的场地类型与原预约不同。"]})
    if new.resource.price_fen != old.resource.price_fen:
        raise ApiError("validation_error", errors={"slot_id": ["新时段的价格与原预约不同，请取消后重新预约。"]})
    _check_time(config, new.slot, now)
    _check_reservable(session, config, new, clock=clock)
    expected = booking.status
    # Locks in the engine's one order (the booking, the slots' expired holds, the slots by id), so
    # two bookings swapping slots, or a confirm racing this, wait for each other instead of deadlocking.
    session.execute(sa.select(BkBooking.id).where(BkBooking.id == booking.id).with_for_update())
    for sid in sorted((old.slot.id, new.slot.id)):
        capacity.release_expired_holds(session, sid, now)
    session.execute(sa.select(BkSlot.id).where(BkSlot.id.in_((old.slot.id, new.slot.id)))
                    .order_by(BkSlot.id).with_for_update())
    _take_or_refuse(session, new.slot, booking.units, now, hold=expected == "held")
    moved = session.execute(sa.update(capacity.BOOKINGS).where(
        capacity.BOOKINGS.c.id == booking.id, capacity.BOOKINGS.c.status == expected,
        capacity.BOOKINGS.c.slot_id == old.slot.id).values(slot_id=new.slot.id, resource_id=new.resource.id,
                                                            updated_at=now)).rowcount == 1
    if not moved:
        raise ApiError("conflict")  # the transaction rolls back: the new units are not kept
    capacity.give_back(session, old.slot.id, booking.units, held=expected == "held")
    booking = _refresh(session, booking)
    if expected == "confirmed":
        passes.revoke(session, booking, clock=clock, reason="rescheduled")
        cancel_timers(session, subject_type=SUBJECT, subject_id=booking.id, kind=REMINDER)
        _on_confirmed(session, config, booking, new, clock=clock)
    offer_next(session, config, old.slot.id, clock=clock)
    return booking


def no_show(session: Session, config: BookingConfig | None, booking_id: int, *, clock: Clock) -> bool:
    """Nobody checked in by ``no_show_minutes`` after the start: the place is free again."""
    booking = session.get(BkBooking, booking_id)
    if booking is None or booking.status != "confirmed" or booking.checked_in:
        return False
    if not _end(session, booking, status="no_show", reason="no_show", clock=clock):
        return False
    if config is not None:
        offer_next(session, config, booking.slot_id, clock=clock)
    return True


# ---------------------------------------------------------------- waitlist


def join_waitlist(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig, slot: BkSlot,
                  places: int = 1, person_id: int | None = None) -> BkWaitlistEntry:
    """Wait for a full slot: a freed place is offered as a hold of ``offer_minutes`` (and told)."""
    if not principal.is_resident:
        raise ApiError("forbidden")
    now = clock.now()
    place = _slot_in_scenario(session, config, slot.id)
    units, admits, _ = _size(config, place.resource, places)
    _check_time(config, place.slot, now)
    person = person_for(session, config, principal, person_id, clock=clock)
    _check_limits(session, config, person.id, place.slot, now)
    if place.slot.status != "open":
        raise ApiError("slot_closed")
    capacity.release_expired_holds(session, slot.id, now)
    if capacity.free_units(session, slot.id, now) >= units:
        raise ApiError("waitlist_not_needed")
    waiting = session.scalar(sa.select(BkWaitlistEntry.id).where(
        BkWaitlistEntry.slot_id == slot.id, BkWaitlistEntry.person_id == person.id,
        BkWaitlistEntry.status.in_(("waiting", "offered"))))
    if waiting is not None:
        raise ApiError("already_waiting")
    entry = BkWaitlistEntry(slot_id=slot.id, person_id=person.id, booker_person_id=principal.person_id,
                            booker_account_id=principal.account_id, units=units, places=admits, status="waiting",
                            created_at=now)
    session.add(entry)
    session.flush()
    return entry


def offer_next(session: Session, config: BookingConfig, slot_id: int, *, clock: Clock) -> int:
    """Offer freed places to the waitlist in order, each as a timed hold; returns how many."""
    now = clock.now()
    place = place_of(session, slot_id)
    if place is None or place.slot.status != "open" or place.slot.starts_at <= now:
        return 0
    # Expired holds are not released here: this runs with the slot locked, and holds are locked
    # before their slot everywhere else; each expired hold's own timer offers its place.
    offered = 0
    entries = session.scalars(sa.select(BkWaitlistEntry).where(
        BkWaitlistEntry.slot_id == slot_id, BkWaitlistEntry.status == "waiting").order_by(BkWaitlistEntry.id)).all()
    for entry in entries:
        if not capacity.take(session, slot_id, entry.units, now, hold=True):
            break
        expires = min(now + timedelta(minutes=config.offer_minutes), place.slot.starts_at)
        booking = BkBooking(scenario=config.slug, resource_id=place.resource.id, slot_id=slot_id,
                            person_id=entry.person_id, booker_person_id=entry.booker_person_id,
                            booker_account_id=entry.booker_account_id, units=entry.units, places=entry.places,
                            whole_unit=place.resource.kind == "unit", status="held", checked_in=0,
                            hold_expires_at=expires, created_at=now, updated_at=now)
        session.add(booking)
        session.flush()
        if payment.priced(place.resource):
            payment.charge(session, config, booking, place.slot, place.resource, now, until=expires)
        entry.status, entry.booking_id = "offered", booking.id
        schedule_many(session, subject_type=SUBJECT, subject_id=booking.id, timers=[(HOLD_EXPIRY, 0, expires)])
        tell(session, config, clock=clock, template="booking_offer", event="booking.offer",
             bookings=[(booking, place.slot, place.resource)],
             expires_at=expires.astimezone(CST).isoformat())
        offered += 1
    return offered


# ---------------------------------------------------------------- staff


def close_slot(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig, slot: BkSlot,
               reason: str) -> BkSlot:
    """Close a slot: its live bookings are cancelled (passes revoked) and their people told."""
    place = place_of(session, slot.id)
    require_manager(principal, config, place.resource)
    session.execute(sa.select(BkBooking.id).where(  # bookings before their slot
        BkBooking.slot_id == slot.id, BkBooking.status.in_(("held", "confirmed"))).order_by(BkBooking.id)
        .with_for_update())
    closed = session.execute(sa.update(BkSlot.__table__).where(BkSlot.id == slot.id, BkSlot.status == "open")
                             .values(status="closed")).rowcount == 1
    if not closed:
        raise ApiError("slot_closed")
    ended = []
    for booking in session.scalars(sa.select(BkBooking).where(BkBooking.slot_id == slot.id,
                                                              BkBooking.status.in_(("held", "confirmed")))).all():
        if _end(session, booking, status="cancelled", reason=f"slot_closed: {reason}"[:200], clock=clock):
            ended.append((booking, place.slot, place.resource))
    session.execute(sa.update(BkWaitlistEntry).where(BkWaitlistEntry.slot_id == slot.id,
                                                     BkWaitlistEntry.status.in_(("waiting", "offered")))
                    .values(status="cancelled"))
    tell(session, config, clock=clock, template="booking_cancelled", event="booking.slot_closed", bookings=ended,
         reason=reason[:20])
    session.refresh(slot)
    return slot


def close_day(session: Session, *, clock: Clock, principal: Principal, config: BookingConfig,
              resource: BkResource, day: date, reason: str) -> int:
    """Close every open slot of the resource on ``day`` (a doctor's absence, a venue shut for a
    day): each slot's bookings are cancelled and their people told. Returns how many slots."""
    require_manager(principal, config, resource)
    start, end = _day_bounds(day)
    slot_list = session.scalars(sa.select(BkSlot).where(BkSlot.resource_id == resource.id, BkSlot.status == "open",
                                                        BkSlot.starts_at >= start, BkSlot.starts_at < end)).all()
    for slot in slot_list:
        close_slot(session, clock=clock, principal=principal, config=config, slot=slot, reason=reason)
    return len(slot_list)


def require_manager(principal: Principal, config: BookingConfig, resource: BkResource) -> None:
    if not (principal.is_staff and principal.org_id == resource.owner_org_id
            and principal.role in config.manager_roles):
        raise ApiError("forbidden")
