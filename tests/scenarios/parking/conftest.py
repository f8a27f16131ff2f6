"""A parking world: two operators, lots with a tariff, counters and cameras bound through the
telemetry engine, a booking resource of arrival windows, a 错峰共享 project, residents."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest

from app.fields import CST
from auth.devices import create_device
from scenarios.engines.booking.demo import ensure_resource
from scenarios.engines.telemetry import service as telemetry
from scenarios.parking.config import BOOKING, TELEMETRY
from scenarios.parking.demo import ALL_DAY
from scenarios.parking.models import PkLot, PkProject, PkSpace
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, token_for
from tests.support.qr import keyring  # noqa: F401 (a fixture: reservations carry a pass)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=CST)  # a Thursday
TARIFF = {"first_hour_fen": 1000, "half_hour_fen": 500, "daily_cap_fen": 6000, "free_minutes": 15}
BASE = "/api/v1/parking"


@dataclass
class World:
    h: dict[str, dict[str, str]] = field(default_factory=dict)
    lots: dict[str, PkLot] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    people: dict[str, tuple] = field(default_factory=dict)

    def renew(self, session, clock) -> None:
        """Fresh access tokens at the clock's time (they live 15 minutes)."""
        for who, (account, org) in self.people.items():
            self.h[who] = bearer(token_for(session, clock, account, org))
        session.commit()


def _lot(session, clock, org, code: str, lat: float, lon: float, **kw) -> PkLot:
    lot = PkLot(code=code, name=f"{code}停车场", operator_id=org.id, kind=kw.pop("kind", "public"), address="金山区",
                lat=lat, lon=lon, capacity=kw.pop("capacity", 100), reservable=5, tariff=TARIFF, e_payment=True,
                pilot=kw.pop("pilot", None), no_entry_rule=kw.pop("no_entry_rule", "flat_fee"),
                no_entry_fee_fen=kw.pop("no_entry_fee_fen", 3000),
                open_on_payment_failure=kw.pop("open_on_payment_failure", True), silence_seconds=300,
                created_at=clock.now())
    session.add(lot)
    session.flush()
    resource = ensure_resource(session, clock, BOOKING, org, code=code, manager_role="manager", name=lot.name,
                               kind="capacity", capacity=5, slot_minutes=30, calendar="every_day", hours=ALL_DAY,
                               address="金山区", lat=lat, lon=lon)
    lot.resource_id = resource.id
    return lot


def _device(session, clock, w: World, org, lot: PkLot, kind: str, reading: str, name: str) -> None:
    device, secret = create_device(session, org=org, kind=kind, name=name)
    telemetry.bind(session, config=TELEMETRY, kind=reading, device_id=device.id, subject_id=lot.id, clock=clock)
    w.h[name] = basic(device.uid, secret)
    w.ids[name] = device.id


@pytest.fixture
def at_now(clock):
    clock.set(NOW)
    return clock


@pytest.fixture
def world(session, at_now, keyring, clock) -> World:  # noqa: F811 (keyring: the fixture, after the clock is set)
    w = World()
    a, b = make_org(session, "parking_operator"), make_org(session, "parking_operator")
    w.lots["near"] = _lot(session, clock, a, "lot-near", 30.7420, 121.3430)
    w.lots["far"] = _lot(session, clock, a, "lot-far", 30.7600, 121.3430, pilot="hospital")   # ~2 km north
    w.lots["strict"] = _lot(session, clock, a, "lot-strict", 30.7425, 121.3435, no_entry_rule="staff",
                            open_on_payment_failure=False)
    w.lots["other"] = _lot(session, clock, b, "lot-other", 30.9000, 121.1700)                # ~20 km away
    w.lots["shared"] = _lot(session, clock, a, "lot-shared", 30.7410, 121.3410, kind="shared")
    for key in ("near", "far", "strict", "shared"):
        _device(session, clock, w, a, w.lots[key], "sensor", "occupancy", f"counter_{key}")
        _device(session, clock, w, a, w.lots[key], "camera", "plate", f"camera_{key}")
    _device(session, clock, w, b, w.lots["other"], "sensor", "occupancy", "counter_other")
    project = PkProject(code="share-t", name="夜间共享", lot_id=w.lots["shared"].id, start_minute=19 * 60,
                        end_minute=7 * 60, monthly_fee_fen=30000, active=True)
    session.add(project)
    session.flush()
    for label in ("S01", "S02"):
        session.add(PkSpace(lot_id=w.lots["shared"].id, label=label, project_id=project.id))
    alice, bob = make_resident(session, name="王丽"), make_resident(session, name="李强")
    w.people = {"alice": (alice, None), "bob": (bob, None), "manager_a": (make_staff(session, a, "manager"), a),
                "staff_a": (make_staff(session, a, "staff"), a), "manager_b": (make_staff(session, b, "manager"), b)}
    w.ids["alice_person"] = alice.person_id
    w.ids["org_a"] = a.id
    w.renew(session, clock)
    return w
