"""Demo data of parking (``flask seed demo``), idempotent by codes.

- Three parking operators (``310116-parking-1`` … ``3``) supervised by 区交通委, with demo staff
  ``demo-310116-parking-1-manager`` and ``…-staff`` (password ``app.demo.DEMO_PASSWORD``).
- 53 public car parks with e-payment: the pilots first (seed L27) — 4 at hospitals, 4 in
  commercial districts, 4 at transport hubs — then car parks near each town's centre; each with
  a tariff, 10 % of its spaces reservable in 30-minute arrival windows (a booking resource), an
  occupancy counter and an entry and an exit camera bound to it (telemetry), and a count
  reported at seeding (it shows unknown 5 minutes later unless the counter keeps reporting).
- 4 错峰共享 projects: shared car parks (offices, a school, a market) whose 20 spaces are let to
  residents 19:00–07:00 for 300 yuan a month.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import staff_account
from auth.models import Device
from auth.organisations import Organisation
from auth.principal import Principal, device_secret_hash
from scenarios.engines.booking.demo import ensure_resource
from scenarios.engines.telemetry import service as telemetry
from scenarios.parking.config import BOOKING, TELEMETRY, WINDOW_MINUTES
from scenarios.parking.models import PkLot, PkProject, PkSpace

TRANSPORT = "310116-bureau-transport"
OPERATORS = (("310116-parking-1", "金山城市停车管理有限公司"), ("310116-parking-2", "金山交通停车服务有限公司"),
             ("310116-parking-3", "金山商业停车运营有限公司"))
ALL_DAY = [{"weekday": d, "opens_minute": 0, "closes_minute": 24 * 60} for d in range(7)]
HOSPITAL = {"first_hour_fen": 500, "half_hour_fen": 250, "daily_cap_fen": 3000, "free_minutes": 30}
COMMERCIAL = {"first_hour_fen": 1000, "half_hour_fen": 500, "daily_cap_fen": 6000, "free_minutes": 15}
HUB = {"first_hour_fen": 500, "half_hour_fen": 250, "daily_cap_fen": 2500, "free_minutes": 15}
STREET = {"first_hour_fen": 500, "half_hour_fen": 250, "daily_cap_fen": 2000, "free_minutes": 15}
SHARED = {"first_hour_fen": 500, "half_hour_fen": 250, "daily_cap_fen": 2000, "free_minutes": 15}


@dataclass(frozen=True)
class Spot:
    code: str
    name: str
    lat: float
    lon: float
    capacity: int
    tariff: dict
    pilot: str | None = None
    kind: str = "public"


PILOTS = (
    Spot("pk-fudan-jinshan", "复旦大学附属金山医院停车场", 30.7566, 121.3394, 600, HOSPITAL, "hospital"),
    Spot("pk-sixth-jinshan", "市六医院金山分院停车场", 30.8884, 121.1655, 320, HOSPITAL, "hospital"),
    Spot("pk-tinglin-hosp", "亭林医院停车场", 30.8862, 121.3121, 180, HOSPITAL, "hospital"),
    Spot("pk-integrated-hosp", "中西医结合医院停车场", 30.8951, 121.1722, 200, HOSPITAL, "hospital"),
    Spot("pk-wanda", "金山万达广场停车场", 30.7421, 121.3431, 1500, COMMERCIAL, "commercial"),
    Spot("pk-bailian", "百联金山购物中心停车场", 30.7273, 121.3433, 900, COMMERCIAL, "commercial"),
    Spot("pk-longsheng", "龙胜路商业街停车场", 30.7441, 121.3302, 260, COMMERCIAL, "commercial"),
    Spot("pk-zhujing-centre", "朱泾商业中心停车场", 30.8922, 121.1683, 300, COMMERCIAL, "commercial"),
    Spot("pk-jinshanwei-station", "金山卫站停车场", 30.7392, 121.3225, 800, HUB, "transport_hub"),
    Spot("pk-jinshan-north", "金山北站停车场", 30.8958, 121.3143, 500, HUB, "transport_hub"),
    Spot("pk-park-station", "金山园区站停车场", 30.8330, 121.2170, 300, HUB, "transport_hub"),
    Spot("pk-coach-station", "金山汽车客运站停车场", 30.7350, 121.3270, 240, HUB, "transport_hub"),
)
SHARED_LOTS = (
    Spot("pk-share-admin-centre", "区行政中心（错峰共享）", 30.7412, 121.3410, 120, SHARED, kind="shared"),
    Spot("pk-share-science-park", "金山科创园（错峰共享）", 30.7610, 121.3520, 150, SHARED, kind="shared"),
    Spot("pk-share-school", "金山中学（错峰共享）", 30.7485, 121.3350, 80, SHARED, kind="shared"),
    Spot("pk-share-market", "朱泾农贸市场（错峰共享）", 30.8890, 121.1740, 60, SHARED, kind="shared"),
)
PUBLIC_LOTS = 53
OFFSETS = ((0.004, 0.002), (-0.003, 0.004), (0.002, -0.005), (-0.004, -0.002), (0.006, 0.006))


def _town_spots(session: Session, wanted: int) -> list[Spot]:
    towns = session.scalars(sa.select(Organisation).where(Organisation.type.in_(("town", "subdistrict")))
                            .order_by(Organisation.code)).all()
    spots: list[Spot] = []
    i = 0
    while len(spots) < wanted and towns:
        town = towns[i % len(towns)]
        centre = (town.attributes or {}).get("centre")
        short = (town.attributes or {}).get("short_name") or town.name
        n = i // len(towns)
        if centre:
            dlat, dlon = OFFSETS[n % len(OFFSETS)]
            spots.append(Spot(f"pk-{town.code[-3:]}-{n + 1}", f"{short}公共停车场{n + 1}号",
                              round(centre["lat"] + dlat, 5), round(centre["lon"] + dlon, 5),
                              80 + 40 * ((i * 7) % 5), STREET))
        i += 1
        if i > wanted * 4:
            break
    return spots


def _operator(session: Session, code: str, name: str, bureau: Organisation | None) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.code == code))
    if org is None:
        org = Organisation(code=code, name=name, type="parking_operator", supervisor_id=bureau.id if bureau else None,
                           active=True, generated=True, attributes={"demo": True})
        session.add(org)
        session.flush()
    return org


def _device(session: Session, org: Organisation, kind: str, name: str, key: str) -> Device:
    uid = "dv_demo_" + hashlib.sha256(f"parking:{key}".encode()).hexdigest()[:12]
    device = session.scalar(sa.select(Device).where(Device.uid == uid))
    if device is None:
        device = Device(uid=uid, organisation_id=org.id, kind=kind, name=name,
                        secret_hash=device_secret_hash(secrets.token_urlsafe(32)), status="active")
        session.add(device)
        session.flush()
    return device


def ensure_lot(session: Session, clock: Clock, org: Organisation, spot: Spot) -> PkLot:
    """The lot with its booking resource, counter and cameras (found by code when it exists)."""
    lot = session.scalar(sa.select(PkLot).where(PkLot.code == spot.code))
    if lot is None:
        lot = PkLot(code=spot.code, name=spot.name, operator_id=org.id, kind=spot.kind,
                    address=f"上海市金山区{spot.name}", lat=spot.lat, lon=spot.lon, capacity=spot.capacity,
                    reservable=max(5, spot.capacity // 10),
                    tariff=spot.tariff, e_payment=True, pilot=spot.pilot, no_entry_rule="flat_fee",
                    no_entry_fee_fen=spot.tariff["daily_cap_fen"], open_on_payment_failure=True,
                    silence_seconds=300, created_at=clock.now())
        session.add(lot)
        session.flush()
    resource = ensure_resource(session, clock, BOOKING, org, code=spot.code, manager_role="manager",
                               name=f"{spot.name}预约车位", kind="capacity", capacity=lot.reservable,
                               slot_minutes=WINDOW_MINUTES, calendar="every_day", hours=ALL_DAY,
                               address=lot.address, lat=lot.lat, lon=lot.lon)
    lot.resource_id = resource.id
    counter = _device(session, org, "sensor", f"{spot.name}车位计数器", f"{spot.code}:counter")
    telemetry.bind(session, config=TELEMETRY, kind="occupancy", device_id=counter.id, subject_id=lot.id, clock=clock)
    for side in ("entry", "exit"):
        camera = _device(session, org, "camera", f"{spot.name}{'入口' if side == 'entry' else '出口'}高位视频",
                         f"{spot.code}:{side}")
        telemetry.bind(session, config=TELEMETRY, kind="plate", device_id=camera.id, subject_id=lot.id, clock=clock)
    if lot.occupancy_at is None:
        as_device = Principal("device", org_id=org.id, org_code=org.code, org_type=org.type, device_id=counter.id,
                              device_uid=counter.uid, device_kind="sensor")
        telemetry.report(session, clock=clock, config=TELEMETRY, device=as_device, kind="occupancy",
                         value={"occupied": spot.capacity * (3 + len(spot.code) % 6) // 10}, subject_id=lot.id)
    return lot


def _project(session: Session, lot: PkLot, n: int) -> None:
    code = f"share-{n}"
    project = session.scalar(sa.select(PkProject).where(PkProject.code == code))
    if project is None:
        project = PkProject(code=code, name=f"{lot.name} 夜间错峰共享", lot_id=lot.id, start_minute=19 * 60,
                            end_minute=7 * 60, monthly_fee_fen=30000, active=True)
        session.add(project)
        session.flush()
        for k in range(1, 21):
            session.add(PkSpace(lot_id=lot.id, label=f"S{k:02d}", project_id=project.id))
        session.flush()


def load(session: Session, clock: Clock) -> None:
    bureau = session.scalar(sa.select(Organisation).where(Organisation.code == TRANSPORT))
    operators = [_operator(session, code, name, bureau) for code, name in OPERATORS]
    staff_account(session, f"demo-{operators[0].code}-manager", operators[0], "manager")
    staff_account(session, f"demo-{operators[0].code}-staff", operators[0], "staff")
    spots = list(PILOTS) + _town_spots(session, PUBLIC_LOTS - len(PILOTS))
    for i, spot in enumerate(spots[:PUBLIC_LOTS]):
        ensure_lot(session, clock, operators[i % len(operators)], spot)
    for n, spot in enumerate(SHARED_LOTS, start=1):
        _project(session, ensure_lot(session, clock, operators[0], spot), n)
    session.flush()
