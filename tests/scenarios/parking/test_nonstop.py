"""无感支付 against the local WeChat Pay server (tests/support/fake_wechatpay.py): a signed-up
plate's entry is notified (after the entry, by the worker), its exit deducted at the barrier and
booked when WeChat Pay notifies; a plate not signed up, or a deduction refused, falls back to the
operator's rule (a debt); a deduction accepted and then failing becomes a debt."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.timers import Timer
from app.worker import Worker
from auth.models import Account
from scenarios.engines.ledger.models import LgPaymentIntent
from scenarios.engines.ledger.payments import CLOSE_AT_PROVIDER, close_expired
from scenarios.parking.models import PkDebt, PkStay
from tests.engines.ledger.conftest import fake, runtime  # noqa: F401 (fixtures: the server, the app's runtime)
from tests.scenarios.parking.conftest import BASE, NOW
from tests.scenarios.parking.test_gate import passage

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PLATE = "沪A12345"


@pytest.fixture
def signed_up(client, session, world, fake, runtime):  # noqa: F811
    """alice logs in with WeChat (an openid) and records her plate; it is signed up in WeChat."""
    account = session.scalar(sa.select(Account).where(Account.id == world.people["alice"][0].id))
    account.kind, account.openid = "wechat", "o-alice-openid"
    session.commit()
    resp = client.post(f"{BASE}/contracts", json={"project": "share-t", "month": "2027-01", "plate": PLATE},
                       headers=world.h["alice"])
    assert resp.status_code == 201, resp.get_json()
    fake.parking_users.clear()
    fake.parking_users[PLATE] = "NORMAL"
    fake.deduction_state = "ACCEPTED"
    return fake


def enter_and_notify(client, db, clock, world) -> int:
    stay_id = passage(client, world, "near", "entries").get_json()["stay"]["id"]
    Worker(db, clock, worker_id="pk-nonstop", periodic_jobs={}).run_once()
    return stay_id


def test_a_signed_up_plate_leaves_without_stopping_and_the_payment_is_booked(client, db, session, clock, world,
                                                                             signed_up):
    stay_id = enter_and_notify(client, db, clock, world)
    session.expire_all()
    parking_id = session.get(PkStay, stay_id).wx_parking_id
    assert parking_id in signed_up.parkings and signed_up.parkings[parking_id]["plate_number"] == PLATE
    clock.set(NOW + timedelta(minutes=100))
    left = passage(client, world, "near", "exits").get_json()
    assert (left["barrier"], left["stay"]["status"], left["stay"]["settled_by"]) == ("open", "paid", "wechat_parking")
    intent = session.scalar(sa.select(LgPaymentIntent).where(LgPaymentIntent.subject == f"pk_stay:{stay_id}"))
    order = signed_up.orders[intent.out_trade_no]
    assert (order["amount"]["total"], order["parking_info"]["parking_id"]) == (2000, parking_id)
    headers, body = signed_up.notification({"out_trade_no": intent.out_trade_no, "trade_state": "SUCCESS",
                                            "transaction_id": "4200000001", "amount": {"total": 2000,
                                                                                     "payer_total": 2000}})
    assert client.post("/api/v1/payments/notify/wechatpay", data=body, headers=headers).status_code == 204
    session.expire_all()
    stay = session.get(PkStay, stay_id)
    assert (stay.paid_fen, stay.status) == (2000, "paid")
    assert session.scalar(sa.select(sa.func.count()).select_from(PkDebt)) == 0


def test_a_plate_not_signed_up_pays_by_the_operators_rule(client, db, session, clock, world, signed_up):
    signed_up.parking_users.clear()
    stay_id = enter_and_notify(client, db, clock, world)
    session.expire_all()
    assert session.get(PkStay, stay_id).wx_parking_id is None
    clock.set(NOW + timedelta(minutes=100))
    left = passage(client, world, "near", "exits").get_json()
    assert (left["barrier"], left["stay"]["status"], left["owed_fen"]) == ("open", "debt", 2000)


def test_a_refused_deduction_falls_back_to_a_debt(client, db, session, clock, world, signed_up):
    enter_and_notify(client, db, clock, world)
    signed_up.deduction_state = "PAYERROR"
    clock.set(NOW + timedelta(minutes=100))
    left = passage(client, world, "near", "exits").get_json()
    assert (left["barrier"], left["stay"]["status"], left["owed_fen"]) == ("open", "debt", 2000)
    assert session.scalars(sa.select(LgPaymentIntent.status).where(
        LgPaymentIntent.subject.like("pk_stay:%"))).all() == ["closed"]
    # the refused deduction left no JSAPI order: the close API is not asked to close one
    assert session.scalar(sa.select(sa.func.count()).select_from(Timer).where(Timer.kind == CLOSE_AT_PROVIDER)) == 0


def test_wechat_pay_down_at_the_barrier_falls_back_and_an_accepted_deduction_that_fails_is_a_debt(
        client, db, session, clock, world, signed_up):
    enter_and_notify(client, db, clock, world)
    signed_up.down = True
    clock.set(NOW + timedelta(minutes=100))
    down = passage(client, world, "near", "exits").get_json()
    assert (down["barrier"], down["stay"]["status"]) == ("open", "debt")
    signed_up.down = False
    # a second car: accepted at the barrier, never paid: when its intent closes, a debt
    clock.set(NOW + timedelta(minutes=110))
    world.renew(session, clock)
    client.post(f"{BASE}/contracts", json={"project": "share-t", "month": "2027-01", "plate": "沪B22222"},
                headers=world.h["alice"])
    signed_up.parking_users["沪B22222"] = "NORMAL"
    stay_id = passage(client, world, "near", "entries", "沪B22222").get_json()["stay"]["id"]
    Worker(db, clock, worker_id="pk-nonstop", periodic_jobs={}).run_once()
    clock.set(NOW + timedelta(minutes=200))
    left = passage(client, world, "near", "exits", "沪B22222").get_json()
    assert (left["barrier"], left["stay"]["settled_by"]) == ("open", "wechat_parking")
    with db.transaction() as s:
        close_expired(s, NOW + timedelta(days=2))
    session.expire_all()
    debt = session.scalar(sa.select(PkDebt).where(PkDebt.stay_id == stay_id))
    assert (debt.amount_fen, debt.reason, session.get(PkStay, stay_id).status) == (1500, "deduction_failed", "debt")
