"""Who may call a taxi and from where: a resident with a verified residence in a pilot community
(pilot.py) rides from that community's pick-up point; anyone else gets 422
``outside_service_area``. The driver's plate is what the resident sees of the car.

The rider's precise location (``location``) is optional processing (PIPL art. 14): it is taken
only with the rider's consent ``precise_location_taxi`` in effect in this very transaction
(``require_consent``), so a request that arrives after the consent was withdrawn is refused
(403 ``consent_required``) whatever the app still shows; and only near the pick-up point
(``NEAR_M``), in Jinshan. It is then a private field of the ride (encrypted; its driver sees it
once accepted)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.geo import haversine_m, require_inside_district
from app.places.models import Community
from app.places.service import local_date
from app.privacy.consents import require_consent
from auth.models import Residence
from auth.principal import Principal
from auth.residences import living
from scenarios.engines.dispatch.config import Origin
from scenarios.taxi.pilot import BY_COMMUNITY, PickupPoint

NEAR_M = 1000.0
CONSENT = "precise_location_taxi"


def origin(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Origin:
    """The pick-up point of the caller's pilot community (the first verified residence in one)."""
    codes = session.scalars(sa.select(Community.code).join(Residence, Residence.community_id == Community.id)
                            .where(living(principal.person_id or -1, local_date(clock)))
                            .order_by(Residence.id)).all()
    point = next((BY_COMMUNITY[c] for c in codes if c in BY_COMMUNITY), None)
    if point is None:
        raise ApiError("outside_service_area", errors={"community": [
            "一键叫车目前只在试点小区开通（需已认证的住址）。"]})
    if data.get("location") is not None:
        _check_location(session, principal, point, data["location"])
    return Origin(lat=point.lat, lon=point.lon, area=point.community, label=point.name)


def _check_location(session: Session, principal: Principal, point: PickupPoint, location: dict[str, float]) -> None:
    require_consent(session, person_id=principal.person_id, purpose=CONSENT)
    require_inside_district(location["lat"], location["lon"], field="location")
    if haversine_m(point.lat, point.lon, location["lat"], location["lon"]) > NEAR_M:
        raise ApiError("validation_error", errors={"location": [f"须在上车点（{point.name}）1 公里以内。"]})


def vehicle(session: Session, agent: Any) -> dict[str, Any]:
    return {"plate": (agent.details or {}).get("plate")}
