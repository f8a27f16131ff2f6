"""Demo data of ev-charging: the 150 new public piles (L2) of three operators (charging operators
supervised by 区交通委) at 30 stations, two or three per town, five piles each (two DC fast piles
of 60/120 kW, three AC piles of 7 kW), each with its ``charger`` device and a time-of-use
tariff; a manager and a staff member of the first operator
(``demo-310116-charging-sgcc-manager``, password ``app.demo.DEMO_PASSWORD``). Each device reports
``free`` once (so ``make run`` shows free piles for two minutes; after that they are offline
until a device reports). Idempotent (found by codes)."""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import staff_account
from app.geo import inside_district
from auth.models import Device
from auth.organisations import Organisation
from auth.principal import Principal, device_secret_hash
from scenarios.ev_charging.models import EvPile

TRANSPORT_BUREAU = "310116-bureau-transport"
OPERATORS = (("sgcc", "国网上海市电力公司金山供电公司"), ("tld", "特来电金山充电运营"), ("xxcd", "星星充电金山运营"))
STATIONS_PER_TOWN = 3
STATIONS = 30
PILES = (("dc1", "1号快充桩", 120, "gb_dc"), ("dc2", "2号快充桩", 60, "gb_dc"), ("ac1", "3号慢充桩", 7, "gb_ac"),
         ("ac2", "4号慢充桩", 7, "gb_ac"), ("ac3", "5号慢充桩", 7, "gb_ac"))
SITES = ("公共停车场", "社区服务中心", "商业广场")
OFFSETS = ((0.004, 0.003), (-0.003, 0.005), (0.002, -0.006))
# Shanghai's time-of-use grid prices (peak, valley) around a flat price, fen per kWh
TOU = [{"from_minute": 0, "to_minute": 6 * 60, "energy_fen_per_kwh": 31},
       {"from_minute": 8 * 60, "to_minute": 11 * 60, "energy_fen_per_kwh": 107},
       {"from_minute": 18 * 60, "to_minute": 21 * 60, "energy_fen_per_kwh": 107},
       {"from_minute": 22 * 60, "to_minute": 24 * 60, "energy_fen_per_kwh": 31}]


def _operators(session: Session) -> list[Organisation]:
    bureau_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == TRANSPORT_BUREAU))
    out = []
    for key, name in OPERATORS:
        code = f"310116-charging-{key}"
        org = session.scalar(sa.select(Organisation).where(Organisation.code == code))
        if org is None:
            org = Organisation(code=code, name=name, type="charging_operator", supervisor_id=bureau_id, active=True,
                               generated=True, attributes={"demo": True})
            session.add(org)
            session.flush()
        out.append(org)
    return out


def _device(session: Session, org: Organisation, code: str) -> Device:
    uid = "dv_demo_" + hashlib.sha256(f"charger:{code}".encode()).hexdigest()[:12]
    device = session.scalar(sa.select(Device).where(Device.uid == uid))
    if device is None:
        device = Device(uid=uid, organisation_id=org.id, kind="charger", name=f"充电桩 {code}",
                        secret_hash=device_secret_hash(secrets.token_urlsafe(32)), status="active")
        session.add(device)
        session.flush()
    return device


def _sites(session: Session) -> list[tuple[str, str, float, float]]:
    """(station name, address, lat, lon) of the stations, inside the district."""
    towns = session.scalars(sa.select(Organisation).where(Organisation.type.in_(("town", "subdistrict")))
                            .order_by(Organisation.code)).all()
    out = []
    for town in towns:
        attrs = town.attributes or {}
        centre, short = attrs.get("centre") or {}, attrs.get("short_name") or town.name
        if "lat" not in centre:
            continue
        for i in range(STATIONS_PER_TOWN):
            lat, lon = centre["lat"] + OFFSETS[i][0], centre["lon"] + OFFSETS[i][1]
            if not inside_district(lat, lon):
                lat, lon = centre["lat"], centre["lon"]
            out.append((f"{short}{SITES[i]}充电站", f"上海市金山区{short}{SITES[i]}", lat, lon))
    return out[:STATIONS]


def load(session: Session, clock: Clock) -> None:
    from scenarios.engines.telemetry import service as telemetry
    from scenarios.ev_charging.operator import create_pile
    from scenarios.ev_charging.telemetry import STATUS, TELEMETRY

    operators = _operators(session)
    staff_account(session, f"demo-{operators[0].code}-manager", operators[0], "manager")
    staff_account(session, f"demo-{operators[0].code}-staff", operators[0], "staff")
    for n, (station, address, lat, lon) in enumerate(_sites(session)):
        org = operators[n % len(operators)]
        for key, name, power, connector in PILES:
            code = f"ev-{n + 1:02d}-{key}"
            if session.scalar(sa.select(EvPile.id).where(EvPile.code == code)) is not None:
                continue
            device = _device(session, org, code)
            fast = connector == "gb_dc"
            create_pile(session, clock=clock, org=org, code=code, station=station, name=name, address=address,
                        lat=lat, lon=lon, power_kw=power, connector=connector, energy_fen_per_kwh=67,
                        service_fen_per_kwh=80 if fast else 60, tou=TOU, device_id=device.uid)
            telemetry.report(session, clock=clock, config=TELEMETRY, device=_as_principal(device), kind=STATUS,
                             value={"status": "free"})
    session.flush()



def _as_principal(device: Device) -> Principal:
    return Principal("device", org_id=device.organisation_id, org_type="charging_operator", device_id=device.id,
                     device_uid=device.uid, device_kind=device.kind)
