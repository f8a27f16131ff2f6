"""Entry and exit by plate: the fee from the tariff, one entry for a plate read twice, an exit with
no recorded entry by the operator's rule, payment failing at the barrier (the operator's rule;
the debt recorded and collected later), unknown plate formats."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from scenarios.parking.models import PkDebt, PkStay
from tests.scenarios.parking.conftest import BASE, NOW
from tests.support.factories import count

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PLATE = "沪A12345"


def passage(client, w, key: str, way: str, plate: str = PLATE, at=None, who: str | None = None, **extra):
    body = {"plate": plate, **({"at": at.isoformat()} if at else {}), **extra}
    return client.post(f"{BASE}/lots/lot-{key}/{way}", json=body, headers=w.h[who or f"camera_{key}"])


def test_a_stay_is_charged_by_the_tariff_and_an_unpaid_exit_opens_with_a_debt_collected_later(client, session,
                                                                                                clock, world):
    entered = passage(client, world, "near", "entries", "沪a·12345")
    assert entered.status_code == 200, entered.get_json()
    assert entered.get_json()["barrier"] == "open" and entered.get_json()["stay"]["plate"] == "沪A1***5"
    clock.set(NOW + timedelta(minutes=100))
    world.renew(session, clock)
    left = passage(client, world, "near", "exits")
    body = left.get_json()
    assert left.status_code == 200, body
    # first hour 10 yuan, then 40 minutes = two half hours begun at 5 yuan
    assert (body["barrier"], body["owed_fen"], body["stay"]["fee_fen"], body["stay"]["status"]) == (
        "open", 2000, 2000, "debt")
    stay = session.scalar(sa.select(PkStay))
    raw = session.execute(sa.text("SELECT plate FROM pk_stays")).scalar_one()
    assert stay.plate == PLATE and PLATE not in raw  # encrypted at rest
    # the owner records the plate (a reservation or a contract does) and then sees and pays the debt
    assert client.get(f"{BASE}/debts", headers=world.h["alice"]).get_json()["total"] == 0
    reserve_vehicle(client, world, "alice", PLATE)
    debts = client.get(f"{BASE}/debts", headers=world.h["alice"]).get_json()["items"]
    assert [(d["amount_fen"], d["plate"], d["status"]) for d in debts] == [(2000, PLATE, "open")]
    assert client.post(f"{BASE}/debts/{debts[0]['id']}/pay", json={}, headers=world.h["bob"]).status_code == 404
    paying = client.post(f"{BASE}/debts/{debts[0]['id']}/pay", json={}, headers=world.h["alice"])
    assert paying.status_code == 201, paying.get_json()
    paid = client.post(f"/api/v1/payments/{paying.get_json()['payment_id']}/pay", json={}, headers=world.h["alice"])
    assert paid.status_code == 200, paid.get_json()
    session.expire_all()
    assert session.scalar(sa.select(PkDebt.status)) == "paid"
    staff_view = client.get(f"{BASE}/debts", headers=world.h["manager_a"]).get_json()["items"]
    assert [(d["plate"], d["status"]) for d in staff_view] == [("沪A1***5", "paid")]
    assert client.get(f"{BASE}/debts", headers=world.h["manager_b"]).get_json()["total"] == 0


def reserve_vehicle(client, w, who: str, plate: str) -> None:
    """Record the resident's plate the way the app does: a contract for next month."""
    resp = client.post(f"{BASE}/contracts", json={"project": "share-t", "month": "2027-01", "plate": plate},
                       headers=w.h[who])
    assert resp.status_code == 201, resp.get_json()


def test_a_camera_reading_a_plate_twice_in_a_second_makes_one_entry(client, session, world):
    first = passage(client, world, "near", "entries")
    second = passage(client, world, "near", "entries", at=NOW + timedelta(milliseconds=400))
    assert first.status_code == second.status_code == 200
    assert second.get_json()["duplicate"] is True and second.get_json()["stay"]["id"] == first.get_json()["stay"]["id"]
    assert count(session, PkStay) == 1
    # the exit read twice is one exit too
    assert passage(client, world, "near", "exits").get_json()["duplicate"] is False
    again = passage(client, world, "near", "exits", at=NOW + timedelta(seconds=1))
    assert again.get_json()["duplicate"] is True and count(session, PkStay) == 1


def test_an_exit_with_no_recorded_entry_pays_the_flat_fee_or_waits_for_staff(client, session, world):
    flat = passage(client, world, "near", "exits", "沪B54321").get_json()
    assert (flat["barrier"], flat["stay"]["fee_fen"], flat["stay"]["entered_at"], flat["stay"]["status"]) == (
        "open", 3000, None, "debt")
    held = passage(client, world, "strict", "exits", "沪C11111").get_json()
    assert (held["barrier"], held["stay"]["status"], held["stay"]["fee_fen"]) == ("closed", "pending_staff", None)
    told = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "parking_exit_without_entry")).all()
    assert [(m.recipient_kind, m.recipient_id) for m in told] == [("org", str(world.ids["org_a"]))]
    stay_id = held["stay"]["id"]
    assert client.post(f"{BASE}/stays/{stay_id}/decide", json={"fee_fen": 0, "reason": "x"},
                       headers=world.h["manager_b"]).status_code == 404
    decided = client.post(f"{BASE}/stays/{stay_id}/decide", json={"fee_fen": 0, "reason": "核实为内部车辆"},
                          headers=world.h["staff_a"])
    assert decided.status_code == 200 and decided.get_json()["barrier"] == "open", decided.get_json()
    assert client.post(f"{BASE}/stays/{stay_id}/decide", json={"fee_fen": 0, "reason": "again"},
                       headers=world.h["staff_a"]).get_json()["code"] == "stay_not_pending"


def test_payment_failing_at_a_strict_barrier_keeps_it_closed_until_paid_in_the_app(client, session, clock, world):
    reserve_vehicle(client, world, "alice", PLATE)
    assert passage(client, world, "strict", "entries").status_code == 200
    clock.set(NOW + timedelta(minutes=50))
    world.renew(session, clock)
    closed = passage(client, world, "strict", "exits").get_json()
    assert (closed["barrier"], closed["owed_fen"], closed["stay"]["status"]) == ("closed", 1000, "inside")
    assert count(session, PkDebt) == 0
    stay_id = closed["stay"]["id"]
    pay = client.post(f"{BASE}/stays/{stay_id}/pay", json={}, headers=world.h["alice"])
    assert pay.status_code == 201 and pay.get_json()["amount_fen"] == 1000, pay.get_json()
    assert client.post(f"/api/v1/payments/{pay.get_json()['payment_id']}/pay", json={},
                       headers=world.h["alice"]).status_code == 200
    clock.set(NOW + timedelta(minutes=60))  # within the 15 minutes the payment holds
    opened = passage(client, world, "strict", "exits").get_json()
    assert (opened["barrier"], opened["owed_fen"], opened["stay"]["status"], opened["stay"]["settled_by"]) == (
        "open", 0, "paid", "prepaid")


def test_a_paid_stay_owes_the_minutes_after_the_payment_held(client, session, clock, world):
    reserve_vehicle(client, world, "alice", PLATE)
    stay_id = passage(client, world, "near", "entries").get_json()["stay"]["id"]
    clock.set(NOW + timedelta(minutes=55))
    world.renew(session, clock)
    pay = client.post(f"{BASE}/stays/{stay_id}/pay", json={}, headers=world.h["alice"]).get_json()
    client.post(f"/api/v1/payments/{pay['payment_id']}/pay", json={}, headers=world.h["alice"])
    clock.set(NOW + timedelta(minutes=55 + 16))  # late: 71 minutes cost 15 yuan, 10 were paid
    late = passage(client, world, "near", "exits").get_json()
    assert (late["owed_fen"], late["stay"]["fee_fen"], late["stay"]["paid_fen"]) == (500, 1500, 1000)


@pytest.mark.parametrize("plate", ["沪A1234", "沪A123456789", "AB12345", "沪I12345", "沪A1234O", "", "沪AD123"])
def test_an_unknown_plate_format_is_refused_and_nothing_is_stored(client, session, world, plate):
    resp = passage(client, world, "near", "entries", plate)
    assert resp.status_code == 422 and resp.get_json()["code"] in ("plate_invalid", "validation_error")
    assert "plate" in resp.get_json()["errors"]
    assert count(session, PkStay) == 0


def test_new_energy_plates_and_colours(client, world):
    green = passage(client, world, "near", "entries", "沪AD12345").get_json()
    assert green["stay"]["colour"] == "green" and green["stay"]["plate"] == "沪AD****5"
    wrong = passage(client, world, "near", "entries", "沪B12345", colour="green")
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "plate_invalid"


def test_only_the_lots_cameras_and_staff_record_passages(client, world):
    assert passage(client, world, "near", "entries", who="camera_far").status_code == 403  # bound elsewhere
    assert passage(client, world, "near", "entries", who="counter_near").status_code == 403  # not a camera
    assert passage(client, world, "near", "entries", who="alice").status_code == 403
    assert passage(client, world, "near", "entries", who="manager_b").status_code == 403
    assert passage(client, world, "near", "entries", who="staff_a").status_code == 200
    future = passage(client, world, "near", "entries", "沪A99999", at=NOW + timedelta(minutes=5))
    assert future.status_code == 422 and future.get_json()["code"] == "reading_from_future"
