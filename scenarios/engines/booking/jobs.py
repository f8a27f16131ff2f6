"""Timer handlers and periodic jobs of the booking engine.

- ``booking.hold_expiry`` at ``hold_expires_at``: the hold expires (unless confirmed first: both
  are compare-and-sets on the status) and the place is offered to the waitlist.
- ``booking.no_show`` ``no_show_minutes`` after the start: nobody checked in, the place is free.
- ``booking.reminder`` before the start (``reminder_minutes``): the people are told.
- ``booking_extend_slots`` (periodic, hourly): every active resource has slots for its
  scenario's window of days.
- ``person_merged``: the dropped person's bookings move to the kept one. ``person_erased``
  (PIPL): their live bookings are cancelled (places freed, passes revoked); the rows keep only
  ids (the person is a tombstone).
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock, SystemClock
from app.periodic import periodic
from app.timers import Timer, timer_handler
from auth.signals import person_erased, person_merged
from scenarios.engines.booking import service, slots
from scenarios.engines.booking.config import CONFIGS, config_for
from scenarios.engines.booking.models import BkBooking, BkWaitlistEntry
from scenarios.engines.booking.notices import tell


def _config_of(session: Session, booking_id: int):
    scenario = session.scalar(sa.select(BkBooking.scenario).where(BkBooking.id == booking_id))
    return config_for(scenario) if scenario else None


@timer_handler(service.HOLD_EXPIRY)
def on_hold_expiry(session: Session, timer: Timer, clock: Clock) -> None:
    booking_id = int(timer.subject_id)
    config = _config_of(session, booking_id)
    if not service.expire_hold(session, config, booking_id, clock=clock) and config is not None:
        booking = session.get(BkBooking, booking_id)
        if booking is not None and booking.status == "expired":  # a reservation released it first
            service.offer_next(session, config, booking.slot_id, clock=clock)


@timer_handler(service.NO_SHOW)
def on_no_show(session: Session, timer: Timer, clock: Clock) -> None:
    booking_id = int(timer.subject_id)
    service.no_show(session, _config_of(session, booking_id), booking_id, clock=clock)


@timer_handler(service.REMINDER)
def on_reminder(session: Session, timer: Timer, clock: Clock) -> None:
    booking = session.get(BkBooking, int(timer.subject_id))
    config = config_for(booking.scenario) if booking is not None else None
    if booking is None or config is None or booking.status != "confirmed":
        return
    place = service.place_of(session, booking.slot_id)
    tell(session, config, clock=clock, template="booking_reminder", event="booking.reminder",
         bookings=[(booking, place.slot, place.resource)])


@periodic("booking_extend_slots", every=timedelta(hours=1))
def extend_slots(session: Session, clock: Clock) -> int:
    return slots.extend_all(session, today=service.local_day(clock.now()),
                            window_days={slug: c.window_days for slug, c in CONFIGS.items()})


@person_erased.connect
def _on_person_erased(sender: object, *, session: Session, person_id: int, **_: object) -> None:
    clock = SystemClock()
    for booking in session.scalars(sa.select(BkBooking).where(BkBooking.person_id == person_id,
                                                              BkBooking.status.in_(("held", "confirmed")))).all():
        service.end_for_erasure(session, booking, clock=clock)
    session.execute(sa.update(BkWaitlistEntry).where(BkWaitlistEntry.person_id == person_id,
                                                     BkWaitlistEntry.status == "waiting").values(status="cancelled"))


@person_merged.connect
def _on_person_merged(sender: object, *, session: Session, keep_id: int, drop_id: int, **_: object) -> None:
    for model in (BkBooking, BkWaitlistEntry):
        session.execute(sa.update(model).where(model.person_id == drop_id).values(person_id=keep_id))
        session.execute(sa.update(model).where(model.booker_person_id == drop_id).values(booker_person_id=keep_id))
