"""Where a city report is filed and where it goes: city-report's own rules.

- **Where**: a point anywhere on the district's land (``app.geo``; outside → 422
  ``outside_district`` naming ``location``). No residence is needed: anyone in Jinshan may
  report what they see.
- **Who owns it first**: 区城运中心 (the city operations centre), which stays its
  dispatcher: it keeps seeing the report wherever it goes, and may transfer it.
- **Where it goes** (``route``, once the content is cleared by moderation): by category, to
  the bureau in charge, or to the town (subdistrict, industrial zone) whose centre is
  nearest to the point — our reference data holds each town's centre, not its boundary, so
  "nearest centre" is the rule; 城运中心 re-routes the few it gets wrong. ``其他`` stays with
  城运中心, which routes it by hand.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.geo import haversine_m, require_inside_district
from auth.organisations import TOWN_LEVEL_TYPES, Organisation
from auth.principal import Principal
from scenarios.engines.workflow.config import Placement, Routing
from scenarios.engines.workflow.models import Ticket

CITY_OPS = "310116-bureau-city-ops"  # 区城运中心
TOWN = "town"  # the town whose centre is nearest

CATEGORIES = ("市容环境", "道路设施", "违章停车", "占道经营", "绿化", "环境卫生", "噪声", "其他")

# category → the department that handles it (an organisation code, TOWN, or None: 城运中心 itself)
DEPARTMENTS: dict[str, str | None] = {
    "市容环境": "310116-bureau-greening",  # 区绿化市容局
    "绿化": "310116-bureau-greening",
    "道路设施": "310116-bureau-transport",  # 区交通委
    "噪声": "310116-bureau-ecology",  # 区生态环境局
    "违章停车": TOWN,  # towns' 城管 and traffic wardens
    "占道经营": TOWN,
    "环境卫生": TOWN,  # towns run street cleaning
    "其他": None,
}
assert set(DEPARTMENTS) == set(CATEGORIES)


def _org(session: Session, code: str) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.code == code, Organisation.active.is_(True)))
    if org is None:
        raise ApiError("not_ready")  # reference data not loaded
    return org


def nearest_town(session: Session, lat: float, lon: float) -> Organisation | None:
    """The town-level organisation whose centre (``attributes.centre``) is nearest."""
    towns = session.scalars(sa.select(Organisation).where(Organisation.type.in_(TOWN_LEVEL_TYPES),
                                                          Organisation.active.is_(True)))
    best, best_d = None, float("inf")
    for town in towns:
        centre = (town.attributes or {}).get("centre")
        if not centre:
            continue
        d = haversine_m(lat, lon, centre["lat"], centre["lon"])
        if d < best_d:
            best, best_d = town, d
    return best


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    point = data["location"]
    require_inside_district(point["lat"], point["lon"], field="location")
    ops = _org(session, CITY_OPS)
    return Placement(org=ops, dispatcher=ops, lat=point["lat"], lon=point["lon"], address=data.get("address"))


def route(session: Session, *, clock: Clock, ticket: Ticket) -> Routing | None:
    target = DEPARTMENTS.get(ticket.category)
    if target is None:
        return None
    if target == TOWN:
        org = nearest_town(session, ticket.lat, ticket.lon)
        if org is None:
            return None
        return Routing(org, reason=f"{ticket.category}：属地处置，距离最近的镇（街道）为{org.name}")
    org = _org(session, target)
    return Routing(org, reason=f"{ticket.category}：由{(org.attributes or {}).get('short_name', org.name)}处置")
