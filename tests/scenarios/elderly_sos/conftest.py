"""The elderly-sos world: the district's SOS call centre (reference data) with operators
``op1`` … ``op3`` and a manager, 区民政局's supervisor, the person's neighbourhood committee
(a committee member and a grid worker, the responders), 王阿婆 (86, verified ID, enrolled with
her daughter — an account — and a neighbour — a phone only — as contacts), an unenrolled
resident, and a wearable of the call centre worn by 王阿婆 and one worn by nobody known."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.worker import Worker
from auth import pii
from auth.devices import create_device
from auth.organisations import Organisation
from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent, SosDevice
from scenarios.elderly_sos.places import CALL_CENTRE, CIVIL_AFFAIRS
from tests.support.factories import basic, bearer, make_resident, make_staff, place_world, token_for

BASE = "/api/v1/elderly-sos"


def id_number(birth: str, serial: str = "001") -> str:
    first17 = f"310116{birth}{serial}"
    return first17 + pii.id_check_char(first17)


@dataclass
class Sos:
    session: Any
    db: Any
    clock: Any
    client: Any
    world: Any
    accounts: dict[str, Any] = field(default_factory=dict)
    orgs: dict[str, Any] = field(default_factory=dict)
    devices: dict[str, tuple[str, str]] = field(default_factory=dict)
    enrolment_id: int | None = None
    _tokens: dict[str, tuple[Any, str]] = field(default_factory=dict)

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        if who in self.devices:
            return basic(*self.devices[who])
        now = self.clock.now()
        minted = self._tokens.get(who)
        if minted is None or not timedelta(0) <= now - minted[0] < timedelta(minutes=5):
            minted = (now, token_for(self.session, self.clock, self.accounts[who], self.orgs.get(who)))
            self.session.commit()
            self._tokens[who] = minted
        return bearer(minted[1])

    def call(self, method: str, who: str | None, path: str, body: dict | None = None, *, expect: int = 200,
             headers: dict[str, str] | None = None) -> Any:
        kwargs: dict[str, Any] = {"headers": {**self.headers(who), **(headers or {})}}
        if method in ("POST", "PUT"):
            kwargs["json"] = body or {}
        resp = self.client.open(f"{BASE}{path}", method=method, **kwargs)
        assert resp.status_code == expect, (method, path, who, resp.status_code, resp.get_json())
        return resp.get_json()

    def press(self, who: str = "granny", expect: int = 201, **body: Any) -> dict:
        return self.call("POST", who, "/alarms", body, expect=expect)

    def on_duty(self, *who: str) -> None:
        for name in who:
            self.call("PUT", name, "/agents/me/duty", {"on_duty": True})

    def ack(self, who: str, alarm: dict, expect: int = 200) -> Any:
        job_id = self.session.scalar(sa.select(SosAlarm.job_id).where(SosAlarm.id == alarm["id"]))
        return self.call("POST", who, f"/calls/{job_id}/accept", expect=expect)

    def act(self, who: str, alarm_id: int, action: str, body: dict | None = None, expect: int = 200) -> Any:
        return self.call("POST", who, f"/alarms/{alarm_id}/{action}", body, expect=expect)

    def tick(self, seconds: float = 0.0) -> int:
        self.clock.advance(seconds=seconds)
        return Worker(self.db, self.clock, worker_id="sos-test", periodic_jobs={}).run_once()

    def alarm(self, alarm_id: int) -> SosAlarm:
        self.session.expire_all()
        return self.session.get(SosAlarm, alarm_id)

    def trail(self, alarm_id: int, action: str | None = None) -> list[SosAlarmEvent]:
        self.session.expire_all()
        stmt = sa.select(SosAlarmEvent).where(SosAlarmEvent.alarm_id == alarm_id)
        if action:
            stmt = stmt.where(SosAlarmEvent.action == action)
        return list(self.session.scalars(stmt.order_by(SosAlarmEvent.id)))

    def outbox(self, alarm_id: int, template: str | None = None) -> list[tuple[str, str, str, str]]:
        """(template, channel, recipient kind, recipient id) of the alarm's notices, in order."""
        self.session.expire_all()
        stmt = sa.select(OutboxMessage).where(OutboxMessage.event_key.like(f"sos:{alarm_id}:%"))
        if template:
            stmt = stmt.where(OutboxMessage.template == template)
        return [(m.template, m.channel, m.recipient_kind, m.recipient_id)
                for m in self.session.scalars(stmt.order_by(OutboxMessage.id))]

    def id(self, who: str) -> str:
        return str(self.accounts[who].id)


def build(db, session, clock, client) -> Sos:
    world = place_world(session)
    s = Sos(session=session, db=db, clock=clock, client=client, world=world)
    centre = session.scalar(sa.select(Organisation).where(Organisation.code == CALL_CENTRE))
    civil = session.scalar(sa.select(Organisation).where(Organisation.code == CIVIL_AFFAIRS))
    committee = world.committees[0]
    staff = {"op1": (centre, "operator"), "op2": (centre, "operator"), "op3": (centre, "operator"),
             "cc_manager": (centre, "manager"), "civil": (civil, "supervisor"), "member": (committee, "committee"),
             "grid": (committee, "grid_worker"), "other_member": (world.committees[1], "committee"),
             "admin": (world.district, "admin")}
    for name, (org, role) in staff.items():
        s.accounts[name] = make_staff(session, org, role)
        s.orgs[name] = org
    s.accounts["granny"] = make_resident(session, name="王阿婆", id_no=id_number("19400315"), level="verified")
    s.accounts["daughter"] = make_resident(session, name="李女儿", phone="13900000001")
    s.accounts["young"] = make_resident(session, name="赵年轻", id_no=id_number("19500101", "002"), level="verified")
    s.accounts["stranger"] = make_resident(session, name="陌生人")
    for name in ("worn", "loose"):
        device, secret = create_device(session, org=centre, kind="sensor", name=f"手环 {name}")
        s.devices[name] = (device.uid, secret)
    session.commit()
    enrolment = s.call("POST", "member", "/enrolments", {
        "id_number": id_number("19400315"), "hukou_shanghai": True, "lives_alone": True,
        "address": "朱泾镇测试小区1号楼302室", "lat": 30.9, "lon": 121.16, "health": "高血压，服药中",
        "contacts": [{"relation": "family", "name": "李女儿", "phone": "13900000001"},
                     {"relation": "neighbour", "name": "张邻居", "phone": "13900000002"}]}, expect=201)
    s.enrolment_id = enrolment["id"]
    for name, enrolled in (("worn", s.enrolment_id), ("loose", None)):
        s.call("POST", "cc_manager", "/devices", {"device_uid": s.devices[name][0], "kind": "wearable",
                                                  "enrolment_id": enrolled}, expect=201)
    return s


@pytest.fixture
def sos(ctx, db, session, clock, client, reset_rate_limits) -> Sos:
    clock.set(clock.now().replace(year=2026, month=3, day=2, hour=2, minute=0, second=0, microsecond=0))
    return build(db, session, clock, client)


__all__ = ["Sos", "SosDevice"]
