"""Who sees identity's objects (registered with ``auth.visibility`` when auth's routes load).

- ``organisation`` (``/orgs/<code>``): staff who reach it (``auth.permissions.reach``: members,
  organisations above it, its supervisor, the district). Residents and devices: never.
- ``device``, ``membership`` (``/orgs/<code>/devices/<id>``, ``/orgs/<code>/staff/<id>``): the
  organisation is visible and the device or membership is its own.
- ``org_residence`` (``/orgs/<code>/residences/<id>``): the organisation is visible and in charge
  of the residence's place today.
- ``org_relation`` (``/orgs/<code>/relations/<id>``): the organisation is visible and the
  relation is one it may verify (``auth.relations.for_staff``: about someone in its places who
  cannot confirm it themselves).
- ``my_residence``, ``my_relation`` (``/me/...``): the resident whose residence it is, or who is
  either side of the relation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.context import current_clock
from auth.models import Device, Membership, PersonRelation, Residence
from auth.organisations import Organisation
from auth.permissions import reach
from auth.principal import Principal
from auth.relations import for_staff
from auth.residences import orgs_in_charge, today
from auth.visibility import register


def _org(session: Session, code: Any) -> Organisation | None:
    if not isinstance(code, str):
        return None
    return session.scalar(sa.select(Organisation).where(Organisation.code == code, Organisation.active.is_(True)))


def _sees_org(session: Session, principal: Principal, org: Organisation) -> bool:
    return reach(principal, org, session=session) is not None


@dataclass(frozen=True)
class InOrg:
    """An object under ``/orgs/<code>/…``: the organisation, and the id of the object in it.

    The object itself is looked up only once the organisation is visible, so for a caller who
    does not see the organisation an existing id and a missing one cost the same work."""

    org: Organisation
    key: Any


def _in_org(session: Session, key: tuple[str, Any]) -> InOrg | None:
    org = _org(session, key[0])
    return InOrg(org, key[1]) if org is not None else None


def _device_in(session: Session, principal: Principal, at: InOrg) -> bool:
    return _sees_org(session, principal, at.org) and session.scalar(
        sa.select(Device.id).where(Device.uid == at.key, Device.organisation_id == at.org.id)) is not None


def _membership_in(session: Session, principal: Principal, at: InOrg) -> bool:
    if not _sees_org(session, principal, at.org):
        return False
    membership = session.get(Membership, at.key)
    return membership is not None and membership.organisation_id == at.org.id


def _residence_in(session: Session, principal: Principal, at: InOrg) -> bool:
    if not _sees_org(session, principal, at.org):
        return False
    residence = session.get(Residence, at.key)
    if residence is None:
        return False
    return at.org.id in {o.id for o in orgs_in_charge(session, residence, today(current_clock()))}


def _relation_in(session: Session, principal: Principal, at: InOrg) -> bool:
    if not _sees_org(session, principal, at.org):
        return False
    stmt = for_staff(at.org, on=today(current_clock()), status=None).where(PersonRelation.id == at.key)
    return session.scalar(stmt.with_only_columns(PersonRelation.id)) is not None


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
    register("device", load=_in_org, visible=_device_in, description="an organisation's device")
    register("membership", load=_in_org, visible=_membership_in, description="an organisation's staff member")
    register("org_residence", load=_in_org, visible=_residence_in,
             description="a residence in an organisation's charge")
    register("org_relation", load=_in_org, visible=_relation_in,
             description="a relation an organisation may verify")
    register("my_residence", load=_residence, visible=_my_residence,
             description="the caller's own residence")
    register("my_relation", load=_relation, visible=_my_relation,
             description="a relation the caller is a side of")
