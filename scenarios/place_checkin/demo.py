"""Demo data of place-checkin: three venue operators, two places of each of the 25 kinds
spread over the towns, a sentinel at some of them, and check-ins of three demo residents
(``demo-resident-1..3``, the dev-login openids of ``make run``'s banner).

Idempotent: rows are found by natural keys (organisation, place and device codes; the
demo accounts' openids) and never changed once there; check-ins are added only while the
demo residents have none. Demo sentinels get a random secret that is shown nowhere: to use
one, register your own device (``flask --app wsgi devices create``) and bind it.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.geo import inside_district
from auth.models import Account, Device, Person
from auth.organisations import Organisation
from auth.principal import Principal, device_secret_hash
from scenarios.place_checkin.kinds import PLACE_KINDS
from scenarios.place_checkin.models import Checkin, CheckinPlace, CheckinSentinel
from scenarios.place_checkin.service import bind_sentinel, create_place, place_link

SPORTS_BUREAU = "310116-bureau-sports"
OPERATORS = (
    ("310116-venue-01", "金山城市生活服务运营有限公司"),
    ("310116-venue-02", "金山文体场馆管理有限公司"),
    ("310116-venue-03", "金山商业综合体运营有限公司"),
)
PLACES_PER_KIND = 2
NAME_SUFFIX = {
    "residential_community": "花苑", "village": "村民小组", "government_office": "镇政府",
    "office_building": "商务楼", "enterprise": "工业园厂区", "shopping_mall": "商业广场",
    "supermarket": "联华超市", "farmers_market": "农贸市场", "restaurant": "美食城",
    "hotel": "宾馆", "sports_venue": "体育馆", "school": "实验小学", "childcare": "托育园",
    "medical_institution": "社区卫生服务站", "pharmacy": "大药房", "elderly_care": "敬老院",
    "park": "公园", "scenic_spot": "古镇景区", "cultural_venue": "文化活动中心",
    "entertainment": "影城", "transport_hub": "公交枢纽站", "public_transport": "公交线路",
    "bank": "农商银行网点", "service_hall": "社区事务受理中心", "construction_site": "建设工地",
}
SENTINEL_KINDS = ("residential_community", "shopping_mall", "supermarket", "farmers_market",
                  "medical_institution", "school", "sports_venue", "transport_hub")
DEMO_RESIDENTS = (("demo-resident-1", "张伟"), ("demo-resident-2", "李娜"), ("demo-resident-3", "王芳"))
CHECKINS_PER_RESIDENT = 8


def _operators(session: Session) -> list[Organisation]:
    bureau_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == SPORTS_BUREAU))
    out = []
    for code, name in OPERATORS:
        org = session.scalar(sa.select(Organisation).where(Organisation.code == code))
        if org is None:
            org = Organisation(code=code, name=name, type="venue_operator", supervisor_id=bureau_id,
                               active=True, generated=True, attributes={"demo": True})
            session.add(org)
            session.flush()
        out.append(org)
    return out


def _towns(session: Session) -> list[tuple[str, float, float]]:
    """(short name, lat, lon) of each town-level organisation with a centre."""
    out = []
    for org in session.scalars(sa.select(Organisation).where(
            Organisation.type.in_(("town", "subdistrict", "industrial_zone"))).order_by(Organisation.code)):
        centre = (org.attributes or {}).get("centre")
        if centre:
            short = (org.attributes or {}).get("short_name") or org.name
            out.append((short, float(centre["lat"]), float(centre["lon"])))
    return out or [("金山", 30.7419, 121.3416)]


def _point(lat: float, lon: float, i: int) -> tuple[float, float]:
    """A point near a town centre (deterministic), kept on the district's land."""
    for step in (1.0, 0.5, 0.25, 0.0):
        dlat = ((i * 37) % 11 - 5) * 0.0012 * step
        dlon = ((i * 53) % 13 - 6) * 0.0012 * step
        if inside_district(lat + dlat, lon + dlon):
            return round(lat + dlat, 6), round(lon + dlon, 6)
    return lat, lon


def _places(session: Session, clock: Clock, operators: list[Organisation]) -> list[CheckinPlace]:
    towns = _towns(session)
    places = []
    i = 0
    for kind in PLACE_KINDS:
        for n in range(1, PLACES_PER_KIND + 1):
            code = f"demo-{kind.replace('_', '-')}-{n}"
            place = session.scalar(sa.select(CheckinPlace).where(CheckinPlace.code == code))
            if place is None:
                town, lat, lon = towns[i % len(towns)]
                lat, lon = _point(lat, lon, i)
                place, _ = create_place(
                    session, clock=clock, principal=Principal("service"), operator=operators[i % len(operators)],
                    code=code, name=f"{town.removesuffix('镇').removesuffix('街道')}{NAME_SUFFIX[kind]}"
                    + ("" if n == 1 else f"（{n}）"), kind=kind, address=f"上海市金山区{town}示范路{i + 1}号",
                    lat=lat, lon=lon)
            else:
                place_link(session, place, clock=clock)  # a code that expired is issued again
            places.append(place)
            i += 1
    return places


def _sentinels(session: Session, clock: Clock, places: list[CheckinPlace]) -> None:
    for place in places:
        if place.kind not in SENTINEL_KINDS or not place.code.endswith("-1"):
            continue
        uid = "dv_demo_" + hashlib.sha256(place.code.encode()).hexdigest()[:12]
        device = session.scalar(sa.select(Device).where(Device.uid == uid))
        if device is None:
            device = Device(uid=uid, organisation_id=place.operator_id, kind="sentinel", name=f"{place.name}入口哨兵",
                            secret_hash=device_secret_hash(secrets.token_urlsafe(32)), status="active")
            session.add(device)
            session.flush()
        if session.get(CheckinSentinel, device.id) is None:
            bind_sentinel(session, place, uid, clock=clock)


def _residents(session: Session) -> list[Person]:
    persons = []
    for openid, name in DEMO_RESIDENTS:
        account = session.scalar(sa.select(Account).where(Account.kind == "dev", Account.openid == openid))
        if account is None:
            person = Person(name=name, real_name_level="basic")
            account = Account(kind="dev", openid=openid, person=person, status="active")
            session.add(account)
            session.flush()
        if account.person_id is not None:
            persons.append(session.get(Person, account.person_id))
    return persons


def _checkins(session: Session, clock: Clock, persons: list[Person], places: list[CheckinPlace]) -> None:
    ids = [p.id for p in persons]
    if not ids or session.scalar(sa.select(sa.func.count()).select_from(Checkin).where(Checkin.person_id.in_(ids))):
        return
    now = clock.now()
    sentinel_places = {row.place_id for row in session.scalars(sa.select(CheckinSentinel))}
    for r, person in enumerate(persons):
        for k in range(CHECKINS_PER_RESIDENT):
            place = places[(r * 7 + k * 5) % len(places)]
            via = "sentinel" if place.id in sentinel_places and k % 2 else "resident_scan"
            session.add(Checkin(place_id=place.id, person_id=person.id, via=via,
                                at=now - timedelta(hours=3 * k + r, minutes=7 * k)))
    session.flush()


def load(session: Session, clock: Clock) -> None:
    operators = _operators(session)
    places = _places(session, clock, operators)
    _sentinels(session, clock, places)
    _checkins(session, clock, _residents(session), places)
