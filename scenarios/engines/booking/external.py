"""What a scenario may do to its bookings when the world, not a person or a gate, decides:
a booking used without a pass (a charging session started at the reserved pile), and every
live booking of a resource withdrawn (its device reports it faulty).

Both are compare-and-sets on the booking's status, like every other change of the engine, so
they race the no-show timer, a cancel or a check-in with one winner and the counters move once.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from scenarios.engines.booking import capacity
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot, BkWaitlistEntry
from scenarios.engines.booking.notices import tell
from scenarios.engines.booking.service import _end


def booking_at(session: Session, resource_id: int, at: datetime, *, until: datetime | None = None) -> BkBooking | None:
    """The live booking (held, confirmed or in use) of the resource whose slot contains ``at``
    (or, with ``until``, any slot starting before ``until`` and ending after ``at``), earliest first."""
    stmt = (sa.select(BkBooking).join(BkSlot, BkSlot.id == BkBooking.slot_id)
            .where(BkBooking.resource_id == resource_id, BkBooking.status.in_(("held", "confirmed", "checked_in")),
                   BkSlot.starts_at <= (until or at), BkSlot.ends_at > at)
            .order_by(BkSlot.starts_at).limit(1))
    return session.scalars(stmt).first()


def use(session: Session, booking: BkBooking, now: datetime) -> bool:
    """Mark a confirmed booking used (checked in for all its places) without a pass; False when it
    was no longer confirmed (the no-show timer or a cancel came first)."""
    if not capacity.move_status(session, booking.id, "confirmed", now, status="checked_in",
                                checked_in=booking.places):
        return False
    session.refresh(booking)
    return True


def withdraw(session: Session, config: BookingConfig, resource: BkResource, *, clock: Clock, reason: str,
             template: str = "booking_cancelled") -> list[BkBooking]:
    """Cancel every live booking of ``resource`` whose slot has not ended (passes revoked, places
    freed, waiting lists cancelled) and tell their people with ``template``. Returns the bookings."""
    now = clock.now()
    rows = session.execute(
        sa.select(BkBooking, BkSlot).join(BkSlot, BkSlot.id == BkBooking.slot_id)
        .where(BkBooking.resource_id == resource.id, BkBooking.status.in_(("held", "confirmed")),
               BkSlot.ends_at > now)
        .order_by(BkBooking.id)).all()
    ended = [(b, s, resource) for b, s in rows
             if _end(session, b, status="cancelled", reason=f"withdrawn: {reason}"[:200], clock=clock)]
    slot_ids = {s.id for _, s in rows}
    if slot_ids:
        session.execute(sa.update(BkWaitlistEntry).where(BkWaitlistEntry.slot_id.in_(slot_ids),
                                                         BkWaitlistEntry.status == "waiting")
                        .values(status="cancelled"))
    tell(session, config, clock=clock, template=template, event="booking.withdrawn", bookings=ended,
         reason=reason[:20])
    return [b for b, _, _ in ended]
