"""parcel-locker: a courier's delivery (by the locker or the operator's API), the recipient
found by phone and told, the pickup pass verified once by the locker, a relative named to
pick up, overdue reminders and the operator's retrieval, the trail, and the bad input."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.worker import Worker
from auth.devices import create_device
from auth.models import PersonRelation
from scenarios.parcel_locker import service as svc
from scenarios.parcel_locker.models import Parcel, ParcelEvent
from scenarios.registry import SCENARIOS
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, mobile, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

BASE = "/api/v1/parcel-locker"
CELLS = [{"label": "A01", "size": "S"}, {"label": "A02", "size": "S"}, {"label": "B01", "size": "M"}]


class Operator:
    def __init__(self, session, clock, name: str) -> None:
        self.org = make_org(session, "locker_operator", name=name)
        manager = make_staff(session, self.org, "manager")
        self.manager_account = manager
        self.manager = bearer(token_for(session, clock, manager, self.org))
        self.staff = bearer(token_for(session, clock, make_staff(session, self.org, "staff"), self.org))
        self.device, secret = create_device(session, org=self.org, kind="locker", name="1号快件箱")
        self.locker = basic(self.device.uid, secret)
        self.other_device, secret2 = create_device(session, org=self.org, kind="locker", name="2号快件箱")
        self.other_locker = basic(self.other_device.uid, secret2)
        for device in (self.device, self.other_device):
            svc.add_locker(session, clock=clock, operator_id=self.org.id, device=device, name=device.name,
                           community_id=None, cells=CELLS)


@pytest.fixture
def w(session, clock, keyring):
    class World:
        pass

    world = World()
    world.a, world.b = Operator(session, clock, "甲快件箱"), Operator(session, clock, "乙快件箱")
    world.phone = mobile()
    world.zhang = make_resident(session, name="张三", phone=world.phone)
    world.li = make_resident(session, name="李四", phone=mobile())
    world.wang = make_resident(session, name="王五", phone=mobile())
    session.commit()
    world.zhang_auth = bearer(token_for(session, clock, world.zhang))
    world.li_auth = bearer(token_for(session, clock, world.li))
    world.wang_auth = bearer(token_for(session, clock, world.wang))
    return world


def deliver(client, headers, phone, cell="A01", **over):
    body = {"cell": cell, "recipient_phone": phone, "tracking_no": "SF1234567890", "courier": "顺丰速运", **over}
    return client.post(f"{BASE}/parcels", json=body, headers=headers)


def my_parcels(client, headers):
    return client.get("/api/v1/me/parcels", headers=headers).get_json()["items"]


def run_timers(db, clock) -> int:
    return Worker(db, clock, worker_id="pl-test", periodic_jobs={}).run_once()


def test_the_scenario_is_registered():
    (s,) = [s for s in SCENARIOS if s.slug == "parcel-locker"]
    assert s.engines == ("qr",) and "device:locker" in s.roles


def test_a_locker_stores_a_parcel_the_recipient_is_told_and_sees_it_with_its_pass(client, session, w):
    r = deliver(client, w.a.locker, w.phone)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "stored" and body["cell"] == "A01" and body["pickup_pass"] is None
    assert body["recipient_phone"] == w.phone[:3] + "****" + w.phone[-4:]
    assert w.phone not in r.get_data(as_text=True)
    told = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "parcel_arrived")).all()
    assert [m.recipient_id for m in told] == [str(w.zhang.id)]
    assert w.phone not in str(told[0].payload)
    (mine,) = my_parcels(client, w.zhang_auth)
    assert mine["id"] == body["id"] and mine["pickup_pass"]["token"]
    assert [e["action"] for e in mine["trail"]] == ["stored"]
    assert my_parcels(client, w.li_auth) == []
    row = session.get(Parcel, body["id"])
    assert row.recipient_phone == w.phone  # decrypts; stored encrypted
    raw = session.execute(sa.text("SELECT recipient_phone FROM pl_parcels WHERE id = :i"), {"i": body["id"]}).scalar()
    assert w.phone not in raw


def test_the_operator_stores_through_the_api_naming_the_locker(client, w):
    assert deliver(client, w.a.manager, w.phone).status_code == 422  # no locker named
    r = deliver(client, w.a.staff, w.phone, locker=w.a.device.uid)
    assert r.status_code == 201 and r.get_json()["locker_device"] == w.a.device.uid
    r = deliver(client, w.b.staff, w.phone, locker=w.a.device.uid, cell="A02")
    assert r.status_code == 422 and "locker" in r.get_json()["errors"]


def test_an_occupied_cell_is_409_and_nothing_stored_is_lost(client, session, w):
    first = deliver(client, w.a.locker, w.phone).get_json()
    r = deliver(client, w.a.locker, mobile())
    assert r.status_code == 409 and r.get_json()["code"] == "cell_occupied"
    assert session.scalar(sa.select(sa.func.count()).select_from(Parcel)) == 1
    assert session.get(Parcel, first["id"]).status == "stored"
    assert deliver(client, w.a.other_locker, mobile()).status_code == 201  # the same label in another locker


def test_bad_input_from_the_locker(client, w):
    r = deliver(client, w.a.locker, w.phone, cell="Z09")
    assert r.status_code == 422 and r.get_json()["code"] == "cell_unknown"
    r = deliver(client, w.a.locker, "12345")
    assert r.status_code == 422 and "recipient_phone" in r.get_json()["errors"]
    r = deliver(client, w.zhang_auth, w.phone)
    assert r.status_code == 403


def pass_of(client, headers, parcel_id):
    (p,) = [p for p in my_parcels(client, headers) if p["id"] == parcel_id]
    return p["pickup_pass"]["token"]


def test_the_locker_verifies_the_pass_once_and_opens_the_cell(client, session, w):
    parcel = deliver(client, w.a.locker, w.phone, cell="B01").get_json()
    token = pass_of(client, w.zhang_auth, parcel["id"])
    r = client.post(f"{BASE}/pickups", json={"token": token, "cell": "B01"}, headers=w.a.locker)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"result": "open", "parcel_id": parcel["id"], "cell": "B01"}
    r = client.post(f"{BASE}/pickups", json={"token": token}, headers=w.a.locker)
    assert r.status_code == 409 and r.get_json()["code"] == "qr_replayed"
    got = client.get(f"{BASE}/parcels/{parcel['id']}", headers=w.zhang_auth).get_json()
    assert got["status"] == "picked_up" and got["pickup_pass"] is None
    assert [e["action"] for e in got["trail"]] == ["stored", "picked_up"]
    assert deliver(client, w.a.locker, mobile(), cell="B01").status_code == 201  # the cell is free again
    assert svc.pending_timers(session, parcel["id"]) == []


def test_another_cells_or_lockers_pass_is_refused_and_stays_usable(client, w):
    parcel = deliver(client, w.a.locker, w.phone, cell="A01").get_json()
    token = pass_of(client, w.zhang_auth, parcel["id"])
    r = client.post(f"{BASE}/pickups", json={"token": token, "cell": "A02"}, headers=w.a.locker)
    assert r.status_code == 409 and r.get_json()["code"] == "parcel_wrong_cell"
    r = client.post(f"{BASE}/pickups", json={"token": token}, headers=w.a.other_locker)
    assert r.status_code == 409 and r.get_json()["code"] == "parcel_wrong_locker"
    r = client.post(f"{BASE}/pickups", json={"token": token}, headers=w.b.locker)
    assert r.status_code == 409 and r.get_json()["code"] in ("parcel_wrong_locker", "locker_not_registered")
    assert client.post(f"{BASE}/pickups", json={"token": "x.y.z"}, headers=w.a.locker).status_code == 422
    r = client.post(f"{BASE}/pickups", json={"token": token, "cell": "A01"}, headers=w.a.locker)
    assert r.status_code == 200  # the refusals did not use the pass


def test_a_relative_named_by_the_recipient_may_pick_up(client, session, w):
    parcel = deliver(client, w.a.locker, w.phone).get_json()
    relation = PersonRelation(from_person_id=w.zhang.person_id, to_person_id=w.li.person_id, kind="family",
                              allows=[], status="confirmed")
    pending = PersonRelation(from_person_id=w.zhang.person_id, to_person_id=w.wang.person_id, kind="family",
                             allows=[], status="pending")
    session.add_all([relation, pending])
    session.commit()
    url = f"{BASE}/parcels/{parcel['id']}/proxy"
    r = client.post(url, json={"relation_id": pending.id}, headers=w.zhang_auth)
    assert r.status_code == 422 and r.get_json()["code"] == "proxy_not_related"
    assert client.post(url, json={"relation_id": relation.id}, headers=w.li_auth).status_code == 404
    assert client.post(url, json={"relation_id": relation.id}, headers=w.a.staff).status_code == 403
    r = client.post(url, json={"relation_id": relation.id}, headers=w.zhang_auth)
    assert r.status_code == 200 and r.get_json()["proxy_named"] is True
    (seen,) = my_parcels(client, w.li_auth)
    assert seen["pickup_pass"]["token"]
    assert session.scalar(sa.select(OutboxMessage.recipient_id).where(OutboxMessage.template == "parcel_proxy")) \
        == str(w.li.id)
    r = client.post(f"{BASE}/pickups", json={"token": seen["pickup_pass"]["token"]}, headers=w.a.locker)
    assert r.status_code == 200


def test_who_sees_a_parcel(client, w):
    parcel = deliver(client, w.a.locker, w.phone).get_json()
    url = f"{BASE}/parcels/{parcel['id']}"
    assert client.get(url, headers=w.zhang_auth).status_code == 200
    assert client.get(url, headers=w.a.staff).status_code == 200
    missing = client.get(f"{BASE}/parcels/999999", headers=w.li_auth)
    for headers in (w.li_auth, w.b.staff, w.a.locker):
        r = client.get(url, headers=headers)
        assert (r.status_code, r.get_json()["code"]) == (missing.status_code, missing.get_json()["code"]) \
            == (404, "not_found")
    assert client.post(f"{url}/retrieve", json={"reason": "x"}, headers=w.zhang_auth).status_code == 403


def test_overdue_reminds_at_24_hours_and_tells_the_operator_at_72(client, session, db, clock, w):
    parcel = deliver(client, w.a.locker, w.phone).get_json()
    start = clock.now()
    clock.set(start + timedelta(hours=23))
    run_timers(db, clock)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(ParcelEvent)) == 1
    clock.set(start + timedelta(hours=24, minutes=1))
    run_timers(db, clock)
    clock.set(start + timedelta(hours=72, minutes=1))
    run_timers(db, clock)
    session.expire_all()
    staff = bearer(token_for(session, clock, w.a.manager_account, w.a.org))  # 72 h later: a fresh token
    session.commit()
    got = client.get(f"{BASE}/parcels/{parcel['id']}", headers=staff).get_json()
    assert [e["action"] for e in got["trail"]] == ["stored", "reminded", "operator_told"] and got["overdue"]
    templates = {(m.template, m.recipient_id) for m in session.scalars(sa.select(OutboxMessage))}
    assert ("parcel_reminder", str(w.zhang.id)) in templates
    assert ("parcel_retrieve", str(w.a.manager_account.id)) in templates
    r = client.post(f"{BASE}/parcels/{parcel['id']}/retrieve", json={"reason": "超时取回"}, headers=staff)
    assert r.status_code == 200 and r.get_json()["status"] == "retrieved"
    assert [e["action"] for e in r.get_json()["trail"]][-1] == "retrieved"
    r = client.post(f"{BASE}/parcels/{parcel['id']}/retrieve", json={"reason": "again"}, headers=staff)
    assert r.status_code == 409 and r.get_json()["code"] == "parcel_not_stored"


def test_a_picked_up_parcel_is_never_reminded(client, session, db, clock, w):
    parcel = deliver(client, w.a.locker, w.phone).get_json()
    token = pass_of(client, w.zhang_auth, parcel["id"])
    assert client.post(f"{BASE}/pickups", json={"token": token}, headers=w.a.locker).status_code == 200
    clock.set(clock.now() + timedelta(hours=80))
    run_timers(db, clock)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template.in_(("parcel_reminder", "parcel_retrieve")))) == 0


def test_a_retrieved_parcels_pass_is_revoked(client, w):
    parcel = deliver(client, w.a.locker, w.phone).get_json()
    token = pass_of(client, w.zhang_auth, parcel["id"])
    assert client.post(f"{BASE}/parcels/{parcel['id']}/retrieve", json={"reason": "取回"},
                       headers=w.a.manager).status_code == 200
    r = client.post(f"{BASE}/pickups", json={"token": token}, headers=w.a.locker)
    assert r.status_code == 409 and r.get_json()["code"] == "qr_revoked"


def test_lockers_are_registered_by_the_operators_managers(client, session, w):
    device, _ = create_device(session, org=w.a.org, kind="locker", name="3号快件箱")
    session.commit()
    body = {"device_id": device.uid, "name": "3号快件箱", "cells": [{"label": "A01", "size": "S"}]}
    assert client.post(f"{BASE}/lockers", json=body, headers=w.a.staff).status_code == 403
    assert client.post(f"{BASE}/lockers", json=body, headers=w.b.manager).status_code == 422
    r = client.post(f"{BASE}/lockers", json=body, headers=w.a.manager)
    assert r.status_code == 201 and r.get_json()["cells"] == [{"label": "A01", "size": "S", "occupied": False}]
    names = [i["name"] for i in client.get(f"{BASE}/lockers", headers=w.a.staff).get_json()["items"]]
    assert names == ["1号快件箱", "2号快件箱", "3号快件箱"]


def test_the_generic_verify_route_does_not_use_up_a_pickup_pass(client, w):
    parcel = deliver(client, w.a.locker, w.phone).get_json()
    token = pass_of(client, w.zhang_auth, parcel["id"])
    r = client.post("/api/v1/qr/verify", json={"token": token}, headers=w.a.locker)
    assert r.status_code in (403, 422) and r.get_json()["code"] in ("qr_wrong_purpose", "forbidden")
    assert client.post(f"{BASE}/pickups", json={"token": token}, headers=w.a.locker).status_code == 200
