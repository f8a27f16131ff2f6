"""Where a road report is filed and who handles it: road-report's own rules.

A report names a road by its code, or gives a point: then the nearest road within
``ROAD_MATCH_RADIUS_M`` (default 150 m) is taken (none → 422 ``no_road_nearby``; an unknown
code → 422 ``unknown_road``; a point outside Jinshan → 422 ``outside_district``). 区交通委
owns every report; ``route`` assigns it to the road's chief (a ``road_chief`` membership in
区交通委 or a town), who sees and handles the reports on their roads.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.geo import require_inside_district
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.workflow.config import Placement, Routing
from scenarios.engines.workflow.models import Ticket
from scenarios.road_report.roads import chief_account_id, match_radius_m, nearest_road, road_by_code

TRANSPORT = "310116-bureau-transport"  # 区交通委

CATEGORIES = ("路面破损", "井盖缺失", "交通标志标线", "路灯故障", "道路积水", "道路遗撒", "违规占道施工",
              "投诉建议", "其他")


def bureau(session: Session) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.code == TRANSPORT, Organisation.active.is_(True)))
    if org is None:
        raise ApiError("not_ready")  # reference data not loaded
    return org


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    point, code = data.get("location"), data.get("road")
    if point is not None:
        require_inside_district(point["lat"], point["lon"], field="location")
    if code:
        road = road_by_code(session, code)
        if road is None:
            raise ApiError("unknown_road", errors={"road": [f"没有编号为“{code}”的道路。"]})
    elif point is not None:
        radius = match_radius_m()
        found = nearest_road(session, point["lat"], point["lon"], radius)
        if found is None:
            raise ApiError("no_road_nearby", errors={"location": [f"{radius:.0f} 米内没有登记的道路，请选择道路。"]})
        road = found[0]
    else:
        raise ApiError("validation_error", errors={"road": ["请选择道路，或给出位置。"]})
    address = data.get("address")
    return Placement(org=bureau(session), lat=point["lat"] if point else None, lon=point["lon"] if point else None,
                     address=f"{road.name} {address}" if address else road.name,
                     details={"road_code": road.code, "road_name": road.name})


def route(session: Session, *, clock: Clock, ticket: Ticket) -> Routing | None:
    road = road_by_code(session, (ticket.details or {}).get("road_code", ""))
    chief = chief_account_id(session, road) if road is not None else None
    if chief is None:
        return None  # no chief: 区交通委 assigns it by hand
    return Routing(session.get(Organisation, ticket.org_id), assignee_account_id=chief, reason=f"{road.name}路长")
