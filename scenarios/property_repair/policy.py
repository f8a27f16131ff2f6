"""Who may report where, and who owns the ticket: property-repair's own rules.

A resident reports for a room where they have a verified residence current today; the
ticket belongs to the organisation managing that community today (its dated assignment,
or the town's housing office when no company manages it).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.places.models import Building, Community
from app.places.service import find_community, local_date, managing_organisation
from auth.principal import Principal
from auth.residences import active_residences
from scenarios.engines.workflow.config import Placement


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    on = local_date(clock)
    residences = [r for r in active_residences(session, principal.person_id, on=on) if r.community_id is not None]
    if data.get("residence_id") is not None:
        chosen = [r for r in residences if r.id == data["residence_id"]]
        if not chosen:
            raise ApiError("no_residence", errors={"residence_id": ["这不是您已认证的当前住址。"]})
    elif data.get("community_code"):
        community = find_community(session, data["community_code"])
        if community is None:
            raise ApiError("validation_error", errors={"community_code": ["小区不存在。"]})
        chosen = [r for r in residences if r.community_id == community.id]
        if not chosen:
            raise ApiError("no_residence", errors={"community_code": ["您在该小区没有已认证的住址。"]})
    else:
        chosen = residences
        if not chosen:
            raise ApiError("no_residence", errors={"community_code": ["请先登记并认证您在小区的住址。"]})
    if len(chosen) > 1:
        raise ApiError("validation_error", errors={"residence_id": [
            "您有多处住址，请选择：" + "、".join(str(r.id) for r in chosen) + "。"]})
    residence = chosen[0]
    community = session.get(Community, residence.community_id)
    building = session.get(Building, residence.building_id)
    return Placement(
        org=managing_organisation(session, community, on),
        community_id=community.id, building_id=building.id, room=residence.room,
        address=community.address,
        subject_person_id=principal.person_id,
    )
