"""rural-rental's facts about a village (``app.places.facts``) for the village's summary: its
houses by state, the beds of its approved houses and the tenants of its current approved
tenancies."""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scenarios.rural_rental.models import RrHouse, RrRoom, RrTenancy


def village_rental(session: Session, *, village: Any, today: date) -> dict[str, Any]:
    houses = dict(session.execute(sa.select(RrHouse.state, sa.func.count()).where(
        RrHouse.village_id == village.id).group_by(RrHouse.state)).all())
    beds = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(RrRoom.occupancy_limit), 0)).join(
        RrHouse, RrHouse.id == RrRoom.house_id).where(RrHouse.village_id == village.id, RrHouse.state == "approved"))
    tenants = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(RrTenancy.persons), 0)).where(
        RrTenancy.village_id == village.id, RrTenancy.state == "approved", RrTenancy.starts_on <= today,
        RrTenancy.ends_on > today))
    return {"houses": houses, "beds": int(beds or 0), "tenants": int(tenants or 0)}
