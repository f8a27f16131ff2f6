"""Where a hotline work order is filed and where it goes: hotline-12345's own rules.

- **Filed** by a call-taker of the 12345 hotline office for a caller: the office owns it
  first and stays its dispatcher (it sees it wherever it goes, re-routes it, closes it).
  The place is a point inside the district or an address (at least one).
- **Caller** (``on_filed``): the phone is kept encrypted in ``hl_callers`` with the resident
  account whose verified phone it is, if any; it is never in the ticket, so departments never
  see it.
- **Routed** (``route``) by category to the bureau in charge, or to the town whose centre is
  nearest the point (``社区治理``); ``其他`` and a ``社区治理`` order without a point stay with
  the office, which transfers them by hand.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.geo import haversine_m, require_inside_district
from auth import pii
from auth.models import RESIDENT_ACCOUNT_KINDS, Account, Person
from auth.organisations import TOWN_LEVEL_TYPES, Organisation
from auth.principal import Principal
from scenarios.engines.workflow.config import Placement, Routing
from scenarios.engines.workflow.models import Ticket
from scenarios.hotline_12345.catalogue import DEPARTMENTS, HOTLINE_OFFICE, TOWN
from scenarios.hotline_12345.models import HotlineCaller


def org_by_code(session: Session, code: str) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.code == code, Organisation.active.is_(True)))
    if org is None:
        raise ApiError("not_ready")  # reference data not loaded
    return org


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    point, address = data.get("location"), data.get("address")
    if point is None and not address:
        raise ApiError("validation_error", errors={"location": ["请填写地址或选择区内的位置。"]})
    if point is not None:
        require_inside_district(point["lat"], point["lon"], field="location")
    office = org_by_code(session, HOTLINE_OFFICE)
    if principal.org_id != office.id:
        raise ApiError("forbidden")  # call-takers of another call centre
    return Placement(org=office, dispatcher=office, lat=point["lat"] if point else None,
                     lon=point["lon"] if point else None, address=address)


def resident_with_phone(session: Session, phone: str) -> int | None:
    """The active resident account whose phone is ``phone`` (by its lookup hash), if exactly one."""
    ids = session.scalars(
        sa.select(Account.id).join(Person, Person.id == Account.person_id)
        .where(Person.phone_hash == pii.lookup_hash("person.phone", phone), Account.kind.in_(RESIDENT_ACCOUNT_KINDS),
               Account.status == "active").limit(2)).all()
    return ids[0] if len(ids) == 1 else None


def on_filed(session: Session, *, ticket: Ticket, data: dict[str, Any]) -> None:
    phone = pii.normalise_mobile(data["caller_phone"])
    session.add(HotlineCaller(ticket_id=ticket.id, phone=phone,
                              resident_account_id=resident_with_phone(session, phone)))


def nearest_town(session: Session, lat: float, lon: float) -> Organisation | None:
    towns = session.scalars(sa.select(Organisation).where(Organisation.type.in_(TOWN_LEVEL_TYPES),
                                                          Organisation.active.is_(True)))
    ranked = [(haversine_m(lat, lon, t.attributes["centre"]["lat"], t.attributes["centre"]["lon"]), t.id, t)
              for t in towns if (t.attributes or {}).get("centre")]
    return min(ranked)[2] if ranked else None


def route(session: Session, *, clock: Clock, ticket: Ticket) -> Routing | None:
    target = DEPARTMENTS.get(ticket.category)
    if target is None:
        return None
    if target == TOWN:
        org = nearest_town(session, ticket.lat, ticket.lon) if ticket.lat is not None else None
        return Routing(org, reason=f"{ticket.category}：属地处置（{org.name}）") if org else None
    org = org_by_code(session, target)
    return Routing(org, reason=f"{ticket.category}：由{(org.attributes or {}).get('short_name', org.name)}办理")
