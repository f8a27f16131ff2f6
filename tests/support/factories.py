"""Small factories for identity tests (and scenario tests that need people and staff).

They need an app context (for the data keys): use them inside ``with app.app_context():``
or through the ``ctx`` fixture of the identity tests. Codes are random so that they never
clash with reference data.
"""
from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.places.models import Building, Community, ManagementAssignment, Village
from auth import tokens
from auth.models import Account, Person
from auth.organisations import Organisation
from auth.pii import id_check_char
from auth.staff import create_staff

STAFF_PASSWORD = "correct horse battery"


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


ID_BIRTH_FIRST = date(1940, 1, 1)
ID_BIRTH_LAST = date(2005, 12, 31)


def id_number(birth: str | None = None, region: str = "310116", seq: str | None = None) -> str:
    """A valid GB 11643 number: a random birth date (1940–2005) and sequence unless given.

    About 24 million combinations: two persons in one test database must not share a number
    (1,000 sequence numbers on one fixed date collided often enough to fail a run now and then).
    """
    if birth is None:
        span = (ID_BIRTH_LAST - ID_BIRTH_FIRST).days + 1
        birth = (ID_BIRTH_FIRST + timedelta(days=secrets.randbelow(span))).strftime("%Y%m%d")
    seq = seq or f"{secrets.randbelow(1000):03d}"
    first17 = region + birth + seq
    return first17 + id_check_char(first17)


def mobile() -> str:
    return "139" + f"{uuid.uuid4().int % 10**8:08d}"


def make_org(session: Session, type: str, *, parent: Organisation | None = None,
             supervisor: Organisation | None = None, code: str | None = None, name: str | None = None,
             active: bool = True) -> Organisation:
    org = Organisation(code=code or uid(type[:6]), name=name or f"测试{type}", type=type,
                       parent_id=parent.id if parent else None, supervisor_id=supervisor.id if supervisor else None,
                       active=active, attributes={})
    session.add(org)
    session.flush()
    return org


def make_community(session: Session, *, town: Organisation, fallback_owner: Organisation,
                   committee: Organisation | None = None, buildings: tuple[tuple[str, int, int], ...] = (("1", 18, 4),),
                   code: str | None = None) -> Community:
    community = Community(code=code or uid("cm"), name="测试小区", town_id=town.id,
                          committee_id=committee.id if committee else None, fallback_owner_id=fallback_owner.id,
                          address="金山区测试路 1 号", lat=30.74, lon=121.34, households=100)
    session.add(community)
    session.flush()
    for number, floors, per_floor in buildings:
        session.add(Building(community_id=community.id, number=number, floors=floors, rooms_per_floor=per_floor))
    session.flush()
    return community


def assign(session: Session, community: Community, company: Organisation, *,
           valid_from: date = date(2020, 1, 1), valid_to: date | None = None) -> ManagementAssignment:
    row = ManagementAssignment(community_id=community.id, company_id=company.id, valid_from=valid_from,
                               valid_to=valid_to)
    session.add(row)
    session.flush()
    return row


def make_village(session: Session, *, town: Organisation, committee: Organisation, houses: int = 200) -> Village:
    village = Village(code=uid("vl"), name="测试村", town_id=town.id, committee_id=committee.id,
                      lat=30.8, lon=121.2, house_count=houses, attributes={})
    session.add(village)
    session.flush()
    return village


def make_staff(session: Session, org: Organisation, role: str, *, username: str | None = None,
               password: str = STAFF_PASSWORD) -> Account:
    account, _membership, _ = create_staff(session, username=username or uid("staff"), password=password,
                                           org=org, role=role)
    return account


def make_resident(session: Session, *, name: str | None = None, id_no: str | None = None,
                  phone: str | None = None, level: str | None = None, openid: str | None = None) -> Account:
    person = Person(name=name)
    if id_no:
        person.set_id_number(id_no)
    if phone:
        person.set_phone(phone)
    person.real_name_level = level or ("basic" if name and id_no else "none")
    session.add(person)
    session.flush()
    account = Account(kind="wechat", openid=openid or uid("openid"), person_id=person.id, status="active")
    session.add(account)
    session.flush()
    return account


def token_for(session: Session, clock: Clock, account: Account, org: Organisation | None = None) -> str:
    """An access token minted directly (no login call, so no rate limit)."""
    return tokens.issue_pair(session, clock=clock, account=account, org=org).access_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def count(session: Session, model: type, *where: sa.ColumnElement[bool]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


@dataclass
class World:
    """Two organisations of each kind the identity layer touches, and their places."""

    district: Organisation
    bureau: Organisation
    towns: list[Organisation]
    housing_office: Organisation
    committees: list[Organisation]
    village_committees: list[Organisation]
    companies: list[Organisation]
    community: Community  # managed by companies[0], committee committees[0]
    community2: Community  # managed by companies[1], committee committees[1]
    unmanaged: Community  # no company: the housing office is in charge
    village: Village  # village_committees[0]
    village2: Village  # village_committees[1]


def place_world(session: Session) -> World:
    district = make_org(session, "district")
    bureau = make_org(session, "bureau", parent=district, name="区房管局")
    towns = [make_org(session, "town", parent=district) for _ in range(2)]
    housing = make_org(session, "housing_office", parent=towns[0])
    committees = [make_org(session, "neighbourhood_committee", parent=t) for t in towns]
    village_committees = [make_org(session, "village_committee", parent=t) for t in towns]
    companies = [make_org(session, "property_company", supervisor=bureau) for _ in range(2)]
    community = make_community(session, town=towns[0], fallback_owner=housing, committee=committees[0])
    community2 = make_community(session, town=towns[1], fallback_owner=housing, committee=committees[1])
    unmanaged = make_community(session, town=towns[0], fallback_owner=housing)
    assign(session, community, companies[0])
    assign(session, community2, companies[1])
    village = make_village(session, town=towns[0], committee=village_committees[0])
    village2 = make_village(session, town=towns[1], committee=village_committees[1])
    session.flush()
    return World(district, bureau, towns, housing, committees, village_committees, companies, community,
                 community2, unmanaged, village, village2)
