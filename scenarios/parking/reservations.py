"""停车预约: a space at a lot for a 30-minute arrival window, held until the window ends plus
15 minutes (then the booking engine's no-show timer releases it and counts a no-show).

The booking engine owns capacity (the lot's resource: one place per reservable space in each
window), limits, passes, cancelling and the no-show; this module adds the plate.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.principal import Principal
from scenarios.engines.booking import service as booking
from scenarios.engines.booking.models import BkBooking, BkSlot
from scenarios.parking.config import BOOKING, GRACE_MINUTES
from scenarios.parking.models import PkLot, PkReservation, PkVehicle
from scenarios.parking.vehicles import own_vehicle


def reserve(session: Session, *, clock: Clock, principal: Principal, lot: PkLot, slot_id: int, plate: object,
            colour: object) -> tuple[PkReservation, BkBooking, PkVehicle]:
    """422 ``plate_invalid``, ``lot_not_reservable``, ``slot_not_at_lot``; the engine's 409s."""
    if lot.resource_id is None or not lot.reservable:
        raise ApiError("lot_not_reservable")
    slot_resource = session.scalar(sa.select(BkSlot.resource_id).where(BkSlot.id == slot_id))
    if slot_resource != lot.resource_id:
        raise ApiError("slot_not_at_lot", errors={"slot_id": ["这个到达时段不属于该停车场。"]})
    now = clock.now()
    vehicle = own_vehicle(session, principal, plate, colour, now)
    booked = booking.book(session, clock=clock, principal=principal, config=BOOKING, slot_id=slot_id)
    slot = session.get(BkSlot, slot_id)
    row = PkReservation(booking_id=booked.id, lot_id=lot.id, vehicle_id=vehicle.id, arrive_from=slot.starts_at,
                        held_until=slot.ends_at + timedelta(minutes=GRACE_MINUTES), created_at=now)
    session.add(row)
    session.flush()
    return row, booked, vehicle
