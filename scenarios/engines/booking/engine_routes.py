"""Engine-wide endpoint: ``GET /api/v1/me/bookings``, every booking of the caller and of the
people they act for, across booking scenarios, upcoming first, with their passes (预约圈)."""
from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView

from app.api import Blueprint, page_of, paginate
from app.config import Settings
from app.context import current_clock
from app.db import get_session
from auth.models import PersonRelation
from auth.principal import current_principal, require_resident
from scenarios.engines.booking.models import BkBooking, BkSlot
from scenarios.engines.booking.presenters import booking_view
from scenarios.engines.booking.schemas import BookingMineArgs, BookingSchema

blp = Blueprint("me-bookings", __name__, url_prefix="/api/v1/me", description="The caller's bookings (预约圈)")


def mine(person_id: int, now) -> sa.Select:
    """Bookings for the caller, by the caller, or for those the caller acts for: upcoming (by
    start) first, then the past (latest first)."""
    acted_for = sa.select(PersonRelation.to_person_id).where(PersonRelation.from_person_id == person_id)
    upcoming = BkSlot.ends_at > now
    return (sa.select(BkBooking).join(BkSlot, BkSlot.id == BkBooking.slot_id)
            .where(sa.or_(BkBooking.person_id == person_id, BkBooking.booker_person_id == person_id,
                          BkBooking.person_id.in_(acted_for)))
            .order_by(sa.case((upcoming, 0), else_=1),
                      sa.case((upcoming, BkSlot.starts_at), else_=None).asc(),
                      BkSlot.starts_at.desc(), BkBooking.id.desc()))


@blp.route("/bookings")
class MyBookings(MethodView):
    @require_resident
    @blp.arguments(BookingMineArgs, location="query")
    @blp.response(200, page_of(BookingSchema))
    def get(self, args):
        """Your bookings and those of the people you act for, every scenario, upcoming first."""
        session = get_session()
        clock = current_clock()
        page = paginate(session, mine(current_principal().person_id, clock.now()), args)
        return {**page, "items": [booking_view(session, b, clock=clock) for b in page["items"]]}


def blueprints(settings: Settings) -> list[Blueprint]:
    return [blp]
