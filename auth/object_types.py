"""Who sees identity's objects (registered with ``auth.visibility`` when auth's routes load).

- ``organisation`` (``/orgs/<code>``): staff who reach it (``auth.permissions.reach``: members,
  organisations above it, its supervisor, the district). Residents and devices: never.
- ``device``, ``membership`` (``/orgs/<code>/devices/<id>``, ``/orgs/<code>/staff/<id>``): the
  organisation is visible and the device or membership is its own.
- ``org_residence`` (``/orgs/<code>/residences/<id>``): the organisation is visible and in charge
  of the residence's place today.
- ``my_residence``, ``my_relation`` (``/me/...``): the resident whose residence it is, or who is
  either side of the relation.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.context import current_clock
from auth.models import Device, Membership, PersonRelation, Residence
from auth.organisations import Organisation
from auth.permissions import reach
from auth.principal import Principal
from auth.residences import orgs_in_charge, today
from auth.visibility import register


def _org(session: Session, code: Any) -> Organisation | None:
    if not isinstance(code, str):
        return None
    return session.scalar(sa.select(Organisation).where(Organisation.code == code, Organisation.active.is_(True)))


def _sees_org(session: Session, principal: Principal, org: Organisation) -> bool:
    return reach(principal, org, session=session) is not None


def _device(session: Session, key: tuple[str, str]) -> tuple[Organisation, Device] | None:
    org = _org(session, key[0])
    if org is None:
        return None
    device = session.scalar(sa.select(Device).where(Device.uid == key[1], Device.organisation_id == org.id))
    return (org, device) if device is not None else None


def _membership(session: Session, key: tuple[str, int]) -> tuple[Organisation, Membership] | None:
    org = _org(session, key[0])
    membership = session.get(Membership, key[1]) if org is not None else None
    if membership is None or membership.organisation_id != org.id:  # type: ignore[union-attr]
        return None
    return org, membership  # type: ignore[return-value]


def _org_residence(session: Session, key: tuple[str, int]) -> tuple[Organisation, Residence] | None:
    org = _org(session, key[0])
    residence = session.get(Residence, key[1]) if org is not None else None
    if residence is None:
        return None
    in_charge = orgs_in_charge(session, residence, today(current_clock()))
    return (org, residence) if org.id in {o.id for o in in_charge} else None  # type: ignore[union-attr]


def _owned_by_org(session: Session, principal: Principal, pair: tuple[Organisation, Any]) -> bool:
    return _sees_org(session, principal, pair[0])


def _my_residence(session: Session, principal: Principal, residence: Residence) -> bool:
    return principal.is_resident and principal.person_id is not None and residence.person_id == principal.person_id


def _my_relation(session: Session, principal: Principal, relation: PersonRelation) -> bool:
    return (principal.is_resident and principal.person_id is not None
            and principal.person_id in (relation.from_person_id, relation.to_person_id))


def _residence(session: Session, key: int) -> Residence | None:
    return session.get(Residence, key)


def _relation(session: Session, key: int) -> PersonRelation | None:
    return session.get(PersonRelation, key)


def register_all() -> None:
    register("organisation", load=_org, visible=_sees_org, description="an organisation, by its code")
    register("device", load=_device, visible=_owned_by_org, description="an organisation's device")
    register("membership", load=_membership, visible=_owned_by_org, description="an organisation's staff member")
    register("org_residence", load=_org_residence, visible=_owned_by_org,
             description="a residence in an organisation's charge")
    register("my_residence", load=_residence, visible=_my_residence,
             description="the caller's own residence")
    register("my_relation", load=_relation, visible=_my_relation,
             description="a relation the caller is a side of")
