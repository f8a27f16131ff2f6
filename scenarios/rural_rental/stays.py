"""人来登记 / 人走注销: a tenant's arrival and departure under an approved tenancy.

The landlord (scanning the tenant's personal code, or typing their verified ID number) or the
village committee registers each tenant's arrival; only a tenant of an approved tenancy whose
period covers today may arrive (409 ``no_approved_tenancy``; someone else: 409 ``not_a_tenant``).
A tenancy past its end with someone not deregistered is *overstaying*: the committee's list
flags it (``GET /tenancies?overstaying=true``).
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.places.service import local_date
from auth import pii
from auth.models import Person
from auth.principal import Principal
from qr.models import PERSONAL_PURPOSE
from qr.scans import Scanner
from qr.service import verify
from scenarios.rural_rental import service as svc
from scenarios.rural_rental.models import RrHouse, RrStay, RrTenancy


def may_register(session: Session, principal: Principal, house: RrHouse) -> bool:
    return (principal.is_resident and principal.account_id == house.landlord_account_id) or \
        svc.is_committee(session, principal, house)


def _person(session: Session, *, clock: Clock, principal: Principal, data: dict) -> int:
    if data.get("token"):
        scanner = Scanner("resident" if principal.is_resident else "staff", principal.account_id)
        found = verify(session, data["token"], clock=clock, allowed_purposes={PERSONAL_PURPOSE}, scanner=scanner)
        if found.holder is None or found.holder.type != "person":
            raise ApiError("not_a_tenant")
        return found.holder.id
    if data.get("id_number"):
        return svc.persons_by_id_numbers(session, [data["id_number"]])[0].id
    raise ApiError("validation_error", errors={"token": ["须扫描租客的个人码或填写身份证号"]})


def arrive(session: Session, *, clock: Clock, principal: Principal, tenancy: RrTenancy, data: dict) -> RrStay:
    house = session.get(RrHouse, tenancy.house_id)
    if not may_register(session, principal, house):
        raise ApiError("forbidden")
    today = local_date(clock)
    if tenancy.state != "approved" or not tenancy.starts_on <= today < tenancy.ends_on:
        raise ApiError("no_approved_tenancy")
    person_id = _person(session, clock=clock, principal=principal, data=data)
    if person_id not in tenancy.tenant_person_ids:
        raise ApiError("not_a_tenant")
    stay = session.scalar(sa.select(RrStay).where(RrStay.tenancy_id == tenancy.id, RrStay.person_id == person_id))
    if stay is not None and stay.left_at is None:
        return stay
    if stay is not None:
        raise ApiError("already_left")
    stay = RrStay(tenancy_id=tenancy.id, person_id=person_id, arrived_at=clock.now(),
                  registered_by_account_id=principal.account_id, via="code" if data.get("token") else "id_number")
    session.add(stay)
    session.flush()
    return stay


def depart(session: Session, *, clock: Clock, principal: Principal, tenancy: RrTenancy, data: dict) -> RrStay:
    house = session.get(RrHouse, tenancy.house_id)
    if not may_register(session, principal, house):
        raise ApiError("forbidden")
    person_id = _person(session, clock=clock, principal=principal, data=data)
    stay = session.scalar(sa.select(RrStay).where(RrStay.tenancy_id == tenancy.id, RrStay.person_id == person_id,
                                                  RrStay.left_at.is_(None)))
    if stay is None:
        raise ApiError("not_arrived")
    stay.left_at = clock.now()
    session.flush()
    return stay


def overstaying(today) -> sa.ColumnElement[bool]:
    """Approved tenancies past their end with a tenant still registered."""
    still_here = sa.select(RrStay.id).where(RrStay.tenancy_id == RrTenancy.id, RrStay.left_at.is_(None)).exists()
    return sa.and_(RrTenancy.state == "approved", RrTenancy.ends_on <= today, still_here)


def moving_on(day: date) -> sa.ColumnElement[bool]:
    """Approved tenancies starting (arrivals due) or ending (departures due) on ``day``."""
    return sa.and_(RrTenancy.state == "approved", sa.or_(RrTenancy.starts_on == day, RrTenancy.ends_on == day))


def tenants_of(session: Session, tenancies: list[RrTenancy]) -> dict[int, list[dict[str, Any]]]:
    """Each tenancy's tenants, masked (name, ID number), with their arrival and departure, in the
    tenancy's order of persons: two queries for the whole page."""
    ids = {p for t in tenancies for p in t.tenant_person_ids}
    persons = {p.id: p for p in session.scalars(sa.select(Person).where(Person.id.in_(ids)))} if ids else {}
    stays = {(s.tenancy_id, s.person_id): s for s in session.scalars(sa.select(RrStay).where(
        RrStay.tenancy_id.in_([t.id for t in tenancies])))} if tenancies else {}
    out: dict[int, list[dict[str, Any]]] = {}
    for t in tenancies:
        out[t.id] = []
        for pid in t.tenant_person_ids:
            person, stay = persons.get(pid), stays.get((t.id, pid))
            out[t.id].append({
                "name": pii.mask_name(person.name) if person and person.name else None,
                "id_number": pii.mask_id_number(person.id_number) if person and person.id_number else None,
                "arrived_at": stay.arrived_at if stay else None, "left_at": stay.left_at if stay else None})
    return out
