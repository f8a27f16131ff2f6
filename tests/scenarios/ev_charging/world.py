"""A small ev-charging world: two charging operators, piles with their devices, residents, staff."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from auth.devices import create_device
from auth.organisations import Organisation
from scenarios.ev_charging.operator import create_pile
from scenarios.ev_charging.sessions import place_code
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, token_for

BASE = "/api/v1/ev-charging"
# 金山区 (inside the district): the town of 朱泾 and a point 600 m east
HOME = (30.8949, 121.1616)
TOU = [{"from_minute": 8 * 60, "to_minute": 11 * 60, "energy_fen_per_kwh": 107},
       {"from_minute": 22 * 60, "to_minute": 24 * 60, "energy_fen_per_kwh": 31}]


@dataclass
class World:
    a: Organisation
    b: Organisation
    h: dict[str, dict[str, str]] = field(default_factory=dict)
    piles: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    people: dict[str, Any] = field(default_factory=dict)


def pile(session: Session, clock: Clock, w: World, org: Organisation, code: str, *, lat: float, lon: float,
         connector: str = "gb_dc", power_kw: int = 60) -> None:
    device, secret = create_device(session, org=org, kind="charger", name=f"充电桩 {code}")
    w.piles[code] = create_pile(session, clock=clock, org=org, code=code, station="朱泾公共停车场充电站",
                                name=code, address="金山区朱泾镇", lat=lat, lon=lon, power_kw=power_kw,
                                connector=connector, energy_fen_per_kwh=67, service_fen_per_kwh=80, tou=TOU,
                                device_id=device.uid)
    w.h[f"dev_{code}"] = basic(device.uid, secret)
    w.codes[code] = place_code(session, w.piles[code], clock=clock)


def build(session: Session, clock: Clock) -> World:
    a, b = make_org(session, "charging_operator"), make_org(session, "charging_operator")
    w = World(a, b)
    pile(session, clock, w, a, "ev-a-1", lat=HOME[0], lon=HOME[1])
    pile(session, clock, w, a, "ev-a-2", lat=HOME[0], lon=HOME[1] + 0.006, connector="gb_ac", power_kw=7)
    pile(session, clock, w, b, "ev-b-1", lat=HOME[0] + 0.01, lon=HOME[1])
    company = make_org(session, "property_company")
    for key, org, role in (("manager_a", a, "manager"), ("staff_a", a, "staff"), ("manager_b", b, "manager"),
                           ("company", company, "manager")):
        w.people[key] = (make_staff(session, org, role), org)
    for key, name in (("alice", "王丽"), ("bob", "李强")):
        w.people[key] = make_resident(session, name=name)
    relog(session, clock, w)
    return w


def relog(session: Session, clock: Clock, w: World) -> None:
    """Fresh access tokens for everyone at the clock's time (they live 15 minutes)."""
    for key, who in w.people.items():
        account, org = who if isinstance(who, tuple) else (who, None)
        w.h[key] = bearer(token_for(session, clock, account, org))
    session.commit()


def state(client, w: World, code: str, status: str, at: datetime | None = None):
    body: dict[str, Any] = {"kind": "charger_status", "value": {"status": status}}
    if at is not None:
        body["at"] = at.isoformat()
    return client.put(f"{BASE}/devices/me/state", json=body, headers=w.h[f"dev_{code}"])


def energy(client, w: World, code: str, kwh: float, at: datetime | None = None):
    body: dict[str, Any] = {"kind": "charger_energy", "value": {"energy_kwh": kwh}}
    if at is not None:
        body["at"] = at.isoformat()
    return client.put(f"{BASE}/devices/me/state", json=body, headers=w.h[f"dev_{code}"])
