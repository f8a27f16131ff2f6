"""错峰共享 contracts (a space's hours never under two contracts; a night contract's hours free
at the exit, across midnight) and reservations of an arrival window (held until the window ends
plus 15 minutes, then a no-show; an entry in time checks it in); operators' figures per day."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app.fields import CST
from app.worker import Worker
from scenarios.engines.booking.models import BkBooking, BkSlot
from scenarios.parking.models import PkContract
from tests.scenarios.parking.conftest import BASE, NOW
from tests.scenarios.parking.test_gate import passage

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def sign(client, w, who: str, plate: str, month: str = "2026-12", **extra):
    return client.post(f"{BASE}/contracts", json={"project": "share-t", "month": month, "plate": plate, **extra},
                       headers=w.h[who])


def test_contracts_of_one_space_never_overlap(client, session, world):
    first = sign(client, world, "alice", "沪A12345", space="S01")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["space"], body["hours"], body["starts_on"], body["ends_on"], body["fee_fen"], body["paid"]) == (
        "S01", "19:00-07:00", "2026-12-01", "2026-12-31", 30000, False)
    clash = sign(client, world, "bob", "沪B22222", space="S01")
    assert clash.status_code == 409 and clash.get_json()["code"] == "contract_overlap"
    # without a space named, the next free one; then none is left
    assert sign(client, world, "bob", "沪B22222").get_json()["space"] == "S02"
    full = sign(client, world, "bob", "沪B33333")
    assert full.status_code == 409 and full.get_json()["code"] == "no_shared_space"
    # January is free again; a two-month contract from November meets December's
    assert sign(client, world, "bob", "沪B33333", month="2027-01", space="S01").status_code == 201
    assert sign(client, world, "bob", "沪B44444", month="2026-11", months=2, space="S02").status_code == 422  # past
    assert session.scalar(sa.select(sa.func.count()).select_from(PkContract)) == 3
    # the resident sees theirs in full, the operator masked, another operator nothing
    mine = client.get(f"{BASE}/contracts/{body['id']}", headers=world.h["alice"]).get_json()
    assert mine["plate"] == "沪A12345"
    assert client.get(f"{BASE}/contracts/{body['id']}", headers=world.h["manager_a"]).get_json()["plate"] == "沪A1***5"
    assert client.get(f"{BASE}/contracts/{body['id']}", headers=world.h["manager_b"]).status_code == 404
    assert client.get(f"{BASE}/contracts/{body['id']}", headers=world.h["bob"]).status_code == 404


def test_a_cancelled_contract_frees_its_space_and_a_started_one_cannot_be_cancelled(client, world):
    jan = sign(client, world, "alice", "沪A12345", month="2027-01", space="S01").get_json()
    assert client.post(f"{BASE}/contracts/{jan['id']}/cancel", headers=world.h["manager_a"]).status_code == 403
    cancelled = client.post(f"{BASE}/contracts/{jan['id']}/cancel", headers=world.h["alice"])
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert sign(client, world, "bob", "沪B22222", month="2027-01", space="S01").status_code == 201
    dec = sign(client, world, "alice", "沪A12345", space="S02").get_json()
    started = client.post(f"{BASE}/contracts/{dec['id']}/cancel", headers=world.h["alice"])
    assert started.status_code == 409 and started.get_json()["code"] == "contract_started"


def test_a_night_contract_parks_free_across_midnight_and_pays_the_hours_outside(client, session, clock, world):
    sign(client, world, "alice", "沪A12345", space="S01")
    clock.set(datetime(2026, 12, 3, 18, 0, tzinfo=CST))
    assert passage(client, world, "shared", "entries", "沪A12345").status_code == 200
    clock.set(datetime(2026, 12, 4, 8, 0, tzinfo=CST))  # 18:00–19:00 and 07:00–08:00 outside the contract
    left = passage(client, world, "shared", "exits", "沪A12345").get_json()
    assert (left["stay"]["fee_fen"], left["barrier"]) == (2000, "open")
    clock.set(datetime(2026, 12, 4, 20, 0, tzinfo=CST))
    passage(client, world, "shared", "entries", "沪A12345")
    clock.set(datetime(2026, 12, 5, 6, 59, tzinfo=CST))
    night = passage(client, world, "shared", "exits", "沪A12345").get_json()
    assert (night["stay"]["fee_fen"], night["stay"]["status"], night["owed_fen"]) == (0, "free", 0)
    # another car at the same hours pays the tariff
    clock.set(datetime(2026, 12, 5, 20, 0, tzinfo=CST))
    passage(client, world, "shared", "entries", "沪B22222")
    clock.set(datetime(2026, 12, 6, 6, 59, tzinfo=CST))
    assert passage(client, world, "shared", "exits", "沪B22222").get_json()["stay"]["fee_fen"] == 6000


def slot_at(session, world, key: str, when: datetime) -> BkSlot:
    return session.scalar(sa.select(BkSlot).where(BkSlot.resource_id == world.lots[key].resource_id,
                                                  BkSlot.starts_at == when))


def test_a_reservation_is_held_until_its_window_ends_plus_15_minutes_then_a_no_show(client, db, session, clock,
                                                                                    world):
    noon = datetime.combine(date(2026, 12, 3), time(12, 0), CST)
    slot = slot_at(session, world, "near", noon)
    bad = client.post(f"{BASE}/reservations", json={"lot": "lot-near", "slot_id": slot.id, "plate": "沪A1234"},
                      headers={**world.h["alice"], "Idempotency-Key": "pk-res-bad-1"})
    assert bad.status_code == 422 and bad.get_json()["code"] == "plate_invalid"
    wrong_lot = client.post(f"{BASE}/reservations", json={"lot": "lot-far", "slot_id": slot.id, "plate": "沪A12345"},
                            headers=world.h["alice"])
    assert wrong_lot.status_code == 422 and wrong_lot.get_json()["code"] == "slot_not_at_lot"
    made = client.post(f"{BASE}/reservations", json={"lot": "lot-near", "slot_id": slot.id, "plate": "沪A12345"},
                       headers={**world.h["alice"], "Idempotency-Key": "pk-res-ok-1"})
    assert made.status_code == 201, made.get_json()
    r = made.get_json()
    assert (r["status"], r["arrive_from"], r["held_until"]) == (
        "confirmed", "2026-12-03T12:00:00+08:00", "2026-12-03T12:45:00+08:00")
    bob = client.post(f"{BASE}/reservations", json={"lot": "lot-near", "slot_id": slot.id, "plate": "沪B22222"},
                      headers=world.h["bob"]).get_json()
    # alice arrives at 12:20: checked in; bob never comes: at 12:45 a no-show, his place free again
    clock.set(noon + timedelta(minutes=20))
    entered = passage(client, world, "near", "entries", "沪A12345").get_json()
    assert entered["stay"]["reservation_id"] == r["id"]
    clock.set(noon + timedelta(minutes=45))
    Worker(db, clock, worker_id="pk", periodic_jobs={}).run_once()
    session.expire_all()
    statuses = dict(session.execute(sa.select(BkBooking.id, BkBooking.status)).all())
    assert (statuses[r["booking_id"]], statuses[bob["booking_id"]]) == ("checked_in", "no_show")
    world.renew(session, clock)
    figures = client.get(f"{BASE}/figures", query_string={"date_from": "2026-12-03", "date_to": "2026-12-03",
                                                          "lot": "lot-near"}, headers=world.h["manager_a"]).get_json()
    day = figures["items"][0]
    assert (day["reservations"], day["no_shows"], day["entries"]) == (2, 1, 1)


def test_figures_are_the_operators_own_and_the_bureaus(client, session, clock, world):
    passage(client, world, "near", "entries", "沪A12345")
    client.put(f"{BASE}/lots/lot-near/occupancy", json={"occupied": 70}, headers=world.h["counter_near"])
    clock.set(NOW + timedelta(minutes=30))
    client.put(f"{BASE}/lots/lot-near/occupancy", json={"occupied": 40}, headers=world.h["counter_near"])
    passage(client, world, "near", "exits", "沪A12345")
    q = {"date_from": "2026-12-03", "date_to": "2026-12-04"}
    world.renew(session, clock)
    resp = client.get(f"{BASE}/figures", query_string=q, headers=world.h["manager_a"])
    assert resp.status_code == 200, resp.get_json()
    mine = resp.get_json()["items"]
    assert {i["lot"] for i in mine} == {"lot-near", "lot-far", "lot-strict", "lot-shared"} and len(mine) == 8
    near = next(i for i in mine if i["lot"] == "lot-near" and i["date"] == "2026-12-03")
    assert (near["entries"], near["exits"], near["fees_fen"], near["debts_fen"], near["occupancy_peak"]) == (
        1, 1, 1000, 1000, 70)
    theirs = client.get(f"{BASE}/figures", query_string=q, headers=world.h["manager_b"]).get_json()["items"]
    assert {i["lot"] for i in theirs} == {"lot-other"}
    assert client.get(f"{BASE}/figures", query_string=q, headers=world.h["alice"]).status_code == 403
    too_long = client.get(f"{BASE}/figures", query_string={"date_from": "2026-01-01", "date_to": "2026-12-31"},
                          headers=world.h["manager_a"])
    assert too_long.status_code == 422
