"""What the booking engine can tell other scenarios about a person's record, without their
reading its tables: whether the person was seen (a booking checked in) at an organisation's
resources, and the departments an organisation books (resources' ``department`` attribute).
online-consult asks it for a prior visit at a hospital (hospital-appointment's bookings are
the booking engine's rows; no scenario reads another's tables)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot

SEEN = ("checked_in",)


def last_visit(session: Session, *, person_id: int, owner_org_id: int) -> datetime | None:
    """When ``person_id`` was last seen at ``owner_org_id`` (a booking checked in); None when never."""
    stmt = (sa.select(sa.func.max(BkSlot.starts_at)).select_from(BkBooking)
            .join(BkSlot, BkSlot.id == BkBooking.slot_id).join(BkResource, BkResource.id == BkBooking.resource_id)
            .where(BkBooking.person_id == person_id, BkBooking.status.in_(SEEN),
                   BkResource.owner_org_id == owner_org_id))
    return session.scalar(stmt)


def departments(session: Session, *, owner_org_id: int) -> set[str]:
    """The departments of an organisation's active resources (their ``department`` attribute)."""
    rows = session.scalars(sa.select(BkResource.attributes).where(BkResource.owner_org_id == owner_org_id,
                                                                  BkResource.active.is_(True)))
    return {a["department"] for a in rows if isinstance(a, dict) and a.get("department")}
