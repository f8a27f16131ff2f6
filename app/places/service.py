"""Lookups on places: who manages a community on a date, buildings, rooms and houses.

All functions take the session as an argument and never read the request or the time:
callers pass the date (``local_date(clock)`` gives Beijing's today).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from app.api import fields
from app.clock import Clock
from app.errors import ApiError
from app.places.models import Building, Community, ManagementAssignment, Village
from auth.organisations import TOWN_LEVEL_TYPES, Organisation


def local_date(clock: Clock) -> date:
    """Today in Beijing time (assignments are dated in local days)."""
    return clock.now().astimezone(fields.CST).date()


def _covering(on: date | sa.BindParameter[date]) -> sa.ColumnElement[bool]:
    return sa.and_(
        ManagementAssignment.valid_from <= on,
        sa.or_(ManagementAssignment.valid_to.is_(None), ManagementAssignment.valid_to > on),
    )


def _current(stmt: sa.Select, community_id: Any, on: date | sa.BindParameter[date]) -> sa.Select:
    """``stmt`` on the dated assignment of ``community_id`` covering ``on`` (the latest start
    wins if data ever overlaps)."""
    return (stmt.where(ManagementAssignment.community_id == community_id, _covering(on))
            .order_by(ManagementAssignment.valid_from.desc(), ManagementAssignment.id.desc()).limit(1))


def current_assignment(session: Session, community: Community, on: date) -> ManagementAssignment | None:
    """The dated assignment covering ``on``."""
    stmt = sa.select(ManagementAssignment).options(joinedload(ManagementAssignment.company))
    return session.scalars(_current(stmt, community.id, on)).first()


def managing_organisation(session: Session, community: Community, on: date) -> Organisation:
    """The property company whose assignment covers ``on``, else the fallback owner."""
    assignment = current_assignment(session, community, on)
    if assignment is not None:
        return assignment.company
    return community.fallback_owner


def managing_org_id(on: date | sa.BindParameter[date]) -> sa.ColumnElement[int]:
    """``managing_organisation``'s id as an SQL expression on ``Community`` (correlated), so a
    caller reads a community's owner in the query that finds the community. ``on`` may be a
    bound parameter (a statement built once)."""
    company = _current(sa.select(ManagementAssignment.company_id), Community.id, on).scalar_subquery()
    return sa.func.coalesce(company, Community.fallback_owner_id)


def managing_organisations(session: Session, communities: Iterable[Community], on: date) -> dict[int, Organisation]:
    """``{community id: managing organisation}`` for many communities in two queries."""
    communities = list(communities)
    if not communities:
        return {}
    ids = [c.id for c in communities]
    rows = session.execute(
        sa.select(ManagementAssignment.community_id, Organisation)
        .join(Organisation, Organisation.id == ManagementAssignment.company_id)
        .where(ManagementAssignment.community_id.in_(ids), _covering(on))
        .order_by(ManagementAssignment.community_id, ManagementAssignment.valid_from)
    ).all()
    result = {cid: org for cid, org in rows}  # the latest start wins
    missing = [c for c in communities if c.id not in result]
    if missing:
        owner_ids = {c.fallback_owner_id for c in missing}
        owners = {o.id: o for o in session.scalars(sa.select(Organisation).where(Organisation.id.in_(owner_ids)))}
        for c in missing:
            result[c.id] = owners[c.fallback_owner_id]
    return result


def communities_managed_by(session: Session, organisation: Organisation, on: date) -> list[Community]:
    """Communities ``organisation`` is in charge of on ``on`` (as company or as fallback owner)."""
    if organisation.type == "property_company":
        stmt = (
            sa.select(Community)
            .join(ManagementAssignment, ManagementAssignment.community_id == Community.id)
            .where(ManagementAssignment.company_id == organisation.id, _covering(on))
        )
    else:
        covered = sa.select(ManagementAssignment.community_id).where(_covering(on))
        stmt = sa.select(Community).where(Community.fallback_owner_id == organisation.id,
                                          Community.id.not_in(covered))
    return list(session.scalars(stmt.order_by(Community.code)))


def find_town(session: Session, code: str) -> Organisation | None:
    return session.scalar(
        sa.select(Organisation).where(Organisation.code == code, Organisation.type.in_(TOWN_LEVEL_TYPES))
    )


def find_community(session: Session, code: str) -> Community | None:
    return session.scalar(sa.select(Community).where(Community.code == code))


def find_village(session: Session, code: str) -> Village | None:
    return session.scalar(sa.select(Village).where(Village.code == code))


def find_building(session: Session, community: Community | int, number: str) -> Building | None:
    community_id = community if isinstance(community, int) else community.id
    return session.scalar(
        sa.select(Building).where(Building.community_id == community_id, Building.number == str(number))
    )


def building_sort_key(building: Building) -> tuple[int, str]:
    """Natural order: 2号楼 before 10号楼."""
    return (int(building.number), "") if building.number.isdigit() else (10**9, building.number)


def validate_room(session: Session, community_code: str, building: str, room: str, *,
                  prefix: str = "") -> tuple[Community, Building]:
    """Resolve ``community / building / room`` or raise a 422 naming the wrong field.

    ``prefix`` is prepended to the field names (``"address."`` gives ``address.room``).
    """
    community = find_community(session, community_code)
    if community is None:
        raise ApiError("validation_error", errors={f"{prefix}community": ["小区不存在。"]})
    found = find_building(session, community, building)
    if found is None:
        raise ApiError("validation_error", errors={f"{prefix}building": ["该小区没有这栋楼。"]})
    if not found.has_room(room):
        raise ApiError("validation_error", errors={
            f"{prefix}room": [f"房号无效：该楼共 {found.floors} 层，每层 {found.rooms_per_floor} 户（如 302）。"]
        })
    return community, found


def validate_house(session: Session, village_code: str, house: int, *, prefix: str = "") -> Village:
    """Resolve ``village / house number`` or raise a 422 naming the wrong field."""
    village = find_village(session, village_code)
    if village is None:
        raise ApiError("validation_error", errors={f"{prefix}village": ["村不存在。"]})
    if not village.has_house(house):
        raise ApiError("validation_error", errors={
            f"{prefix}house": [f"门牌号无效：应在 1 到 {village.house_count} 之间。"]
        })
    return village
