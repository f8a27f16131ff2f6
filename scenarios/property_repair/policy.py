"""Who may report where, and who owns the ticket: property-repair's own rules.

A resident reports for a room where they have a verified residence current today; the
ticket belongs to the organisation managing that community today (its dated assignment,
or the town's housing office when no company manages it).
"""
from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.places.models import Building, Community
from app.places.service import find_community, local_date, managing_org_id
from auth.models import Residence
from auth.organisations import Organisation
from auth.principal import Principal
from auth.residences import living
from scenarios.engines.workflow.config import Placement


@cache
def _residences_statement() -> sa.Select:
    day = sa.bindparam("on", type_=sa.Date)
    return (sa.select(Residence, Community, Building, Organisation)
            .join(Community, Community.id == Residence.community_id)
            .outerjoin(Building, Building.id == Residence.building_id)
            .join(Organisation, Organisation.id == managing_org_id(day))
            .where(living(sa.bindparam("person_id"), day))
            .order_by(Residence.id))


def _residences(session: Session, person_id: int, on: date) -> list[tuple[Residence, Community, Building | None,
                                                                        Organisation]]:
    """The person's verified residences in a community current on ``on`` (``auth.residences.living``),
    each with its community, building and the community's managing organisation that day:
    one query (the permission check stays a live read), its statement built once."""
    rows = session.execute(_residences_statement(), {"person_id": person_id, "on": on})
    return [tuple(row) for row in rows]  # type: ignore[misc]


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    on = local_date(clock)
    residences = _residences(session, principal.person_id, on) if principal.person_id is not None else []
    if data.get("residence_id") is not None:
        chosen = [r for r in residences if r[0].id == data["residence_id"]]
        if not chosen:
            raise ApiError("no_residence", errors={"residence_id": ["这不是您已认证的当前住址。"]})
    elif data.get("community_code"):
        chosen = [r for r in residences if r[1].code == data["community_code"]]
        if not chosen:
            if find_community(session, data["community_code"]) is None:
                raise ApiError("validation_error", errors={"community_code": ["小区不存在。"]})
            raise ApiError("no_residence", errors={"community_code": ["您在该小区没有已认证的住址。"]})
    else:
        chosen = residences
        if not chosen:
            raise ApiError("no_residence", errors={"community_code": ["请先登记并认证您在小区的住址。"]})
    if len(chosen) > 1:
        raise ApiError("validation_error", errors={"residence_id": [
            "您有多处住址，请选择：" + "、".join(str(r[0].id) for r in chosen) + "。"]})
    residence, community, building, org = chosen[0]
    return Placement(
        org=org,
        community_id=community.id, building_id=residence.building_id, room=residence.room,
        address=community.address,
        subject_person_id=principal.person_id,
        loaded=(community, building),
    )
