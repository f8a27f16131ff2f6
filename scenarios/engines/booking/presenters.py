"""A booking as its people and the owner's staff see it: masked name, the pass while it admits."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from auth.models import Person
from auth.pii import mask_name
from scenarios.engines.booking import passes
from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot


def booking_view(session: Session, booking: BkBooking, *, clock: Clock, slot: BkSlot | None = None,
                 resource: BkResource | None = None, person_name: str | None = None, with_pass: bool = True
                 ) -> dict[str, Any]:
    """``with_pass``: the pass's token (for its people; never for a gate, which could replay it).
    ``slot``, ``resource`` and ``person_name``: what the caller already read (each saves a query)."""
    slot = slot or session.get(BkSlot, booking.slot_id)
    resource = resource or session.get(BkResource, booking.resource_id)
    name = person_name if person_name is not None else session.scalar(
        sa.select(Person.name).where(Person.id == booking.person_id))
    return {
        "id": booking.id, "scenario": booking.scenario, "status": booking.status,
        "resource": {"code": resource.code, "name": resource.name, "address": resource.address},
        "slot_id": slot.id, "starts_at": slot.starts_at, "ends_at": slot.ends_at, "places": booking.places,
        "checked_in": booking.checked_in, "person": {"person_id": booking.person_id, "masked_name": mask_name(name)},
        "hold_expires_at": booking.hold_expires_at if booking.status == "held" else None,
        "end_reason": booking.end_reason, "created_at": booking.created_at, "payment_id": booking.payment_id,
        "pass_": passes.view(session, booking, clock=clock) if with_pass else None,
    }


def resource_view(resource: BkResource, owner_code: str) -> dict[str, Any]:
    return {"code": resource.code, "name": resource.name, "kind": resource.kind, "capacity": resource.capacity,
            "slot_minutes": resource.slot_minutes, "calendar": resource.calendar, "address": resource.address,
            "lat": resource.lat, "lon": resource.lon, "owner": owner_code, "price_fen": resource.price_fen}
