"""A small world for booking tests: two venue operators (A and B) with a manager, a staff member
and a gate each; a court of A (a whole unit, hourly 08:00–22:00 every day) and a class of A
(10 places, hourly on Wednesdays 09:00–12:00); residents alice and bob. The clock is Monday
2026-03-02 10:00 in Shanghai."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.clock import FrozenClock
from auth.devices import create_device
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.booking import resources
from scenarios.engines.booking.models import BkResource
from tests.engines.booking.scenario import CONFIG
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, token_for

MONDAY_10 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass
class World:
    orgs: dict[str, Organisation]
    court: BkResource
    klass: BkResource
    headers: dict[str, dict[str, str]]
    person: dict[str, int]
    account: dict[str, int]
    extra: dict = field(default_factory=dict)

    def fresh(self, session, clock: FrozenClock) -> None:
        """New access tokens at the clock's time (they live 15 minutes; tests move the clock)."""
        for who, (acc, org) in self.extra["accounts"].items():
            self.headers[who] = bearer(token_for(session, clock, acc, org))
        session.commit()


def build(session, clock: FrozenClock) -> World:
    clock.set(MONDAY_10)
    a = make_org(session, "venue_operator", name="甲场馆公司")
    b = make_org(session, "venue_operator", name="乙场馆公司")
    headers: dict[str, dict[str, str]] = {}
    accounts = {}
    for key, org in (("a", a), ("b", b)):
        for role in ("manager", "staff"):
            acc = make_staff(session, org, role)
            accounts[f"{role}_{key}"] = (acc, org)
            headers[f"{role}_{key}"] = bearer(token_for(session, clock, acc, org))
        device, secret = create_device(session, org=org, kind="gate", name=f"{key} 闸机")
        headers[f"gate_{key}"] = basic(device.uid, secret)
    person, account = {}, {}
    for who, name in (("alice", "王丽"), ("bob", "李强"), ("carol", "张华")):
        acc = make_resident(session, name=name)
        headers[who] = bearer(token_for(session, clock, acc))
        accounts[who] = (acc, None)
        person[who], account[who] = acc.person_id, acc.id
    manager = Principal("staff", org_id=a.id, org_code=a.code, org_type=a.type, role="manager")
    every_day = [{"weekday": d, "opens_minute": 8 * 60, "closes_minute": 22 * 60} for d in range(7)]
    court = resources.create(session, clock=clock, principal=manager, config=CONFIG, name="1号羽毛球场",
                             kind="unit", capacity=1, slot_minutes=60, calendar="every_day",
                             address="金山区测试路 9 号", hours=every_day, code="court-a1")
    klass = resources.create(session, clock=clock, principal=manager, config=CONFIG, name="相约星期三 健身操",
                             kind="capacity", capacity=10, slot_minutes=60, calendar="closed_on_holidays",
                             address="金山区测试路 9 号", code="class-a1",
                             hours=[{"weekday": 2, "opens_minute": 9 * 60, "closes_minute": 12 * 60,
                                     "label": "相约星期三"}])
    session.commit()
    return World({"a": a, "b": b}, court, klass, headers, person, account, {"accounts": accounts})
