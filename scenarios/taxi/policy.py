"""Who may call a taxi and from where: a resident with a verified residence in a pilot community
(pilot.py) rides from that community's pick-up point; anyone else gets 422
``outside_service_area``. The driver's plate is what the resident sees of the car."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.places.models import Community
from app.places.service import local_date
from auth.models import Residence
from auth.principal import Principal
from auth.residences import living
from scenarios.engines.dispatch.config import Origin
from scenarios.taxi.pilot import BY_COMMUNITY


def origin(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Origin:
    """The pick-up point of the caller's pilot community (the first verified residence in one)."""
    codes = session.scalars(sa.select(Community.code).join(Residence, Residence.community_id == Community.id)
                            .where(living(principal.person_id or -1, local_date(clock)))
                            .order_by(Residence.id)).all()
    point = next((BY_COMMUNITY[c] for c in codes if c in BY_COMMUNITY), None)
    if point is None:
        raise ApiError("outside_service_area", errors={"community": [
            "一键叫车目前只在试点小区开通（需已认证的住址）。"]})
    return Origin(lat=point.lat, lon=point.lon, area=point.community, label=point.name)


def vehicle(session: Session, agent: Any) -> dict[str, Any]:
    return {"plate": (agent.details or {}).get("plate")}
