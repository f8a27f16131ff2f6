"""Residences: a resident claims a room of a community or a house of a village; the
organisation in charge verifies or rejects the claim.

In charge of a community: the property company managing it on the day (dated
``ManagementAssignment``), else its fallback owner (the town's housing office), and its
neighbourhood committee. In charge of a village: its village committee.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from app.places.models import Building, Community, ManagementAssignment, Village
from auth import pii
from auth.models import Person, Residence
from auth.organisations import Organisation
from auth.permissions import require_role_in
from auth.principal import Principal

REVIEWER_ROLES = frozenset({"manager", "staff", "committee", "grid_worker"})
LIVE_STATUSES = ("claimed", "verified")


def today(clock: Clock) -> date:
    return clock.now().astimezone(CST).date()


def manager_of(session: Session, community: Community, on: date) -> Organisation:
    """The property company managing ``community`` on ``on``, else its fallback owner."""
    company = session.scalar(
        sa.select(Organisation).join(ManagementAssignment, ManagementAssignment.company_id == Organisation.id)
        .where(ManagementAssignment.community_id == community.id, ManagementAssignment.valid_from <= on,
               sa.or_(ManagementAssignment.valid_to.is_(None), ManagementAssignment.valid_to > on))
        .order_by(ManagementAssignment.valid_from.desc()).limit(1))
    return company or session.get(Organisation, community.fallback_owner_id)


def orgs_in_charge(session: Session, residence: Residence, on: date) -> list[Organisation]:
    if residence.village_id is not None:
        village = session.get(Village, residence.village_id)
        return [session.get(Organisation, village.committee_id)]
    community = session.get(Community, residence.community_id)
    orgs = [manager_of(session, community, on)]
    if community.committee_id is not None:
        orgs.append(session.get(Organisation, community.committee_id))
    return [o for o in orgs if o is not None]


def place_filter(org: Organisation, on: date) -> sa.ColumnElement[bool]:
    """Residences in places ``org`` is in charge of on ``on``."""
    current = sa.and_(ManagementAssignment.valid_from <= on,
                      sa.or_(ManagementAssignment.valid_to.is_(None), ManagementAssignment.valid_to > on))
    managed = sa.select(ManagementAssignment.community_id).where(ManagementAssignment.company_id == org.id, current)
    unmanaged_fallback = sa.select(Community.id).where(
        Community.fallback_owner_id == org.id,
        ~sa.exists().where(ManagementAssignment.community_id == Community.id, current))
    committee = sa.select(Community.id).where(Community.committee_id == org.id)
    villages = sa.select(Village.id).where(Village.committee_id == org.id)
    return sa.or_(
        Residence.community_id.in_(managed.union(unmanaged_fallback, committee).scalar_subquery()),
        Residence.village_id.in_(villages.scalar_subquery()),
    )


# ---------------------------------------------------------------- residents


def claim(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Residence:
    """Claim a residence for the caller's person (status ``claimed``)."""
    person_id = principal.person_id
    valid_from = data.get("valid_from") or today(clock)
    if data.get("community_code"):
        if data.get("village_code") or data.get("house_number") is not None:
            raise ApiError("validation_error", errors={"village_code": ["小区与村只能填一个。"]})
        community = session.scalar(sa.select(Community).where(Community.code == data["community_code"]))
        if community is None:
            raise ApiError("place_not_found", errors={"community_code": ["小区不存在。"]})
        building_no, room = data.get("building"), data.get("room")
        if not building_no or not room:
            raise ApiError("validation_error", errors={
                k: ["必填。"] for k, v in (("building", building_no), ("room", room)) if not v})
        building = session.scalar(sa.select(Building).where(
            Building.community_id == community.id, Building.number == building_no))
        if building is None:
            raise ApiError("room_not_found", errors={"building": ["该小区没有这个楼栋。"]})
        if not building.has_room(room):
            raise ApiError("room_not_found", errors={"room": ["该楼栋没有这个房号。"]})
        place = {"community_id": community.id, "building_id": building.id, "room": room}
    elif data.get("village_code"):
        village = session.scalar(sa.select(Village).where(Village.code == data["village_code"]))
        if village is None:
            raise ApiError("place_not_found", errors={"village_code": ["村不存在。"]})
        house = data.get("house_number")
        if house is None:
            raise ApiError("validation_error", errors={"house_number": ["必填。"]})
        if not village.has_house(house):
            raise ApiError("room_not_found", errors={"house_number": ["该村没有这个门牌号。"]})
        place = {"village_id": village.id, "house_number": house}
    else:
        raise ApiError("validation_error", errors={"community_code": ["须填写小区或村。"]})
    duplicate = session.scalar(sa.select(Residence.id).where(
        Residence.person_id == person_id, Residence.status.in_(LIVE_STATUSES),
        *[getattr(Residence, k) == v for k, v in place.items()]))
    if duplicate is not None:
        raise ApiError("residence_exists")
    residence = Residence(person_id=person_id, valid_from=valid_from, status="claimed", **place)
    session.add(residence)
    session.flush()
    return residence


def own_residence(session: Session, principal: Principal, residence_id: int) -> Residence:
    residence = session.get(Residence, residence_id)
    if residence is None or residence.person_id != principal.person_id:
        raise ApiError("not_found")
    return residence


def end(session: Session, *, clock: Clock, principal: Principal, residence_id: int) -> Residence:
    """The resident moved out (or withdraws a claim)."""
    residence = own_residence(session, principal, residence_id)
    if residence.status in LIVE_STATUSES:
        residence.status = "ended"
        residence.valid_to = max(today(clock), residence.valid_from)
    session.flush()
    return residence


def residences_of(session: Session, person_id: int) -> list[Residence]:
    return list(session.scalars(sa.select(Residence).where(Residence.person_id == person_id)
                                .order_by(Residence.id)).all())


def living(person_id: int | sa.BindParameter[int], on: date | sa.BindParameter[date], *,
           verified_only: bool = True) -> sa.ColumnElement[bool]:
    """The residences of a person current on ``on``; either may be a bound parameter (a
    statement built once, such as property repair's joined lookup)."""
    statuses = ("verified",) if verified_only else LIVE_STATUSES
    return sa.and_(Residence.person_id == person_id, Residence.status.in_(statuses), Residence.valid_from <= on,
                   sa.or_(Residence.valid_to.is_(None), Residence.valid_to >= on))


def active_residences(session: Session, person_id: int, *, on: date, verified_only: bool = True) -> list[Residence]:
    """Where a person lives on ``on`` ("a community the caller may report in")."""
    return list(session.scalars(sa.select(Residence).where(living(person_id, on, verified_only=verified_only))).all())


# ---------------------------------------------------------------- staff


def list_for_org(org: Organisation, *, on: date, status: str | None) -> sa.Select:
    stmt = sa.select(Residence).where(place_filter(org, on))
    if status:
        stmt = stmt.where(Residence.status == status)
    return stmt.order_by(Residence.id)


def residence_for_staff(session: Session, *, clock: Clock, principal: Principal, org: Organisation,
                        residence_id: int) -> Residence:
    """A residence ``org`` is in charge of, with the principal allowed to review it there."""
    residence = session.get(Residence, residence_id)
    if residence is None:
        raise ApiError("not_found")
    in_charge = orgs_in_charge(session, residence, today(clock))
    if org.id not in {o.id for o in in_charge}:
        raise ApiError("not_found")
    require_role_in(principal, org, REVIEWER_ROLES, session=session, via={"member"})
    return residence


def review(session: Session, *, clock: Clock, principal: Principal, org: Organisation, residence_id: int,
           decision: str, note: str | None) -> Residence:
    residence = residence_for_staff(session, clock=clock, principal=principal, org=org, residence_id=residence_id)
    if residence.status != "claimed":
        raise ApiError("residence_already_reviewed")
    residence.status = "verified" if decision == "verify" else "rejected"
    residence.reviewed_by_org_id = org.id
    residence.reviewed_by_account_id = principal.account_id
    residence.reviewed_at = clock.now()
    residence.review_note = note
    session.flush()
    return residence


def describe(session: Session, residence: Residence, *, person: Person | None = None,
             revealed: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The claim; with ``person``, its resident masked, or with ``revealed`` (a staff reveal)
    only those of ``phone`` / ``id_number`` in full and the other left out."""
    out: dict[str, Any] = {
        "id": residence.id,
        "status": residence.status,
        "valid_from": residence.valid_from,
        "valid_to": residence.valid_to,
        "reviewed_at": residence.reviewed_at,
        "review_note": residence.review_note,
    }
    if residence.community_id is not None:
        community = session.get(Community, residence.community_id)
        building = session.get(Building, residence.building_id)
        out.update(community_code=community.code, community_name=community.name,
                   building=building.number, room=residence.room)
    else:
        village = session.get(Village, residence.village_id)
        out.update(village_code=village.code, village_name=village.name, house_number=residence.house_number)
    if person is not None:
        resident: dict[str, Any] = {
            "person_id": person.id,
            "name": pii.mask_name(person.name),
            "real_name_level": person.real_name_level,
        }
        if revealed is None:
            resident.update(phone=pii.mask_mobile(person.phone), id_number=pii.mask_id_number(person.id_number))
        else:
            resident.update({f: getattr(person, f) for f in revealed})
        out["resident"] = resident
    return out
