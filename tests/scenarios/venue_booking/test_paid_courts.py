"""venue-booking's paid courts, through the ledger (issue 15): a court with a price per slot is
booked as a hold with a payment; paying it confirms the booking with its pass; an unpaid hold
expires and its payment closes; a cancellation within the notice rule refunds in full and tells
the resident; a payment that arrives after the hold is gone is refunded. Free courts stay free."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.worker import Worker
from scenarios.engines.booking.models import BkBooking, BkSlot
from scenarios.engines.ledger import jobs as ledger_jobs
from scenarios.engines.ledger import payments, postings
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund
from tests.scenarios.venue_booking.test_venue_booking import BASE, EVERY_DAY, slot_of
from tests.support.factories import bearer, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PRICE = 3000  # 30 元 an hour
TUESDAY = date(2026, 3, 3)


def make_paid_court(client, w, code: str = "court-paid", price: int | None = PRICE) -> None:
    resp = client.post(f"{BASE}/resources", headers={**w["h"]["manager_a"], "Idempotency-Key": f"create-{code}"},
                       json={"code": code, "name": "1号羽毛球场", "kind": "unit", "capacity": 1,
                             "address": "金山区体育中心", "hours": EVERY_DAY, "price_fen": price})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["price_fen"] == price


def book(client, w, slot: BkSlot, key: str) -> dict:
    resp = client.post(f"{BASE}/bookings", json={"slot_id": slot.id, "places": 2},
                       headers={**w["h"]["alice"], "Idempotency-Key": key})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def act(client, w, booking_id: int, action: str, key: str, who: str = "alice"):
    return client.post(f"{BASE}/bookings/{booking_id}/{action}", json={},
                       headers={**w["h"][who], "Idempotency-Key": key})


def pay(client, w, payment_id: int, key: str):
    return client.post(f"/api/v1/payments/{payment_id}/pay", json={},
                       headers={**w["h"]["alice"], "Idempotency-Key": key})


def move_clock(session, clock, w, **kw) -> None:
    """Move the clock (``set=`` or timedelta keywords) and sign alice in again (tokens expire)."""
    clock.set(kw.pop("set")) if "set" in kw else clock.advance(**kw)
    w["h"]["alice"] = bearer(token_for(session, clock, w["alice"]))
    session.commit()


def outbox(session, template: str) -> list[OutboxMessage]:
    return session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == template)).all()


def fresh(session, model, row_id):
    return session.get(model, row_id, populate_existing=True)


def test_a_paid_court_is_held_until_paid_then_confirmed_with_its_pass(client, session, clock, w):
    make_paid_court(client, w)
    slot = slot_of(session, "court-paid", TUESDAY, 18)
    held = book(client, w, slot, "paid-book-1")
    assert held["status"] == "held" and held["pass"] is None and held["payment_id"]
    payment = client.get(f"/api/v1/payments/{held['payment_id']}", headers=w["h"]["alice"]).get_json()
    assert (payment["amount_fen"], payment["status"], payment["subject"]) == (
        PRICE, "created", f"bk_booking:{held['id']}")
    refused = act(client, w, held["id"], "confirm", "paid-confirm-1")
    assert refused.status_code == 409 and refused.get_json()["code"] == "payment_required"
    assert refused.get_json()["payment_id"] == held["payment_id"]

    paid = pay(client, w, held["payment_id"], "paid-pay-1")
    assert paid.status_code == 200 and paid.get_json()["status"] == "paid", paid.get_json()
    booking = client.get(f"{BASE}/bookings/{held['id']}", headers=w["h"]["alice"]).get_json()
    assert booking["status"] == "confirmed" and booking["pass"]["admits"] == 2
    slot = fresh(session, BkSlot, slot.id)
    assert (slot.booked, slot.held) == (1, 0)
    assert len(outbox(session, "booking_confirmed")) == 1
    again = pay(client, w, held["payment_id"], "paid-pay-2")
    assert again.status_code == 409 and again.get_json()["code"] == "payment_not_payable"
    assert postings.verify(session) == {"accounts": [], "transfers": []}


def test_an_unpaid_hold_expires_its_payment_closes_and_the_court_is_free(client, session, db, clock, w):
    make_paid_court(client, w)
    slot = slot_of(session, "court-paid", TUESDAY, 18)
    held = book(client, w, slot, "unpaid-book-1")
    move_clock(session, clock, w, minutes=15)  # payment_minutes: the ledger's expiry job closes the payment
    ledger_jobs.close_expired(session, clock)
    session.commit()
    assert fresh(session, LgPaymentIntent, held["payment_id"]).status == "closed"
    assert fresh(session, BkBooking, held["id"]).status == "held"  # the grace: a late notification still counts
    move_clock(session, clock, w, minutes=3)
    Worker(db, clock, worker_id="venue", periodic_jobs={}).run_once()  # the hold's own timer
    assert fresh(session, BkBooking, held["id"]).status == "expired"
    slot = fresh(session, BkSlot, slot.id)
    assert (slot.booked, slot.held) == (0, 0)
    late = pay(client, w, held["payment_id"], "unpaid-pay-1")
    assert late.status_code == 409 and late.get_json()["code"] == "payment_not_payable"


def test_a_payment_reported_after_the_hold_is_gone_is_refunded_in_full(client, session, db, clock, w):
    make_paid_court(client, w)
    slot = slot_of(session, "court-paid", TUESDAY, 18)
    held = book(client, w, slot, "late-book-1")
    clock.advance(minutes=19)
    Worker(db, clock, worker_id="venue", periodic_jobs={}).run_once()
    intent = fresh(session, LgPaymentIntent, held["payment_id"])
    payments.mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=PRICE, provider_txn_id="42000001",
                       now=clock.now())  # WeChat Pay took it after all
    session.commit()
    intent = fresh(session, LgPaymentIntent, intent.id)
    assert (intent.status, intent.refunded_fen) == ("refunded", PRICE)
    assert fresh(session, BkBooking, held["id"]).status == "expired"
    assert [m.payload["amount"] for m in outbox(session, "payment_refunded")] == ["30.00元"]


def test_cancelling_a_paid_court_in_time_refunds_it_in_full_and_tells_the_resident(client, session, clock, w):
    make_paid_court(client, w)
    slot = slot_of(session, "court-paid", TUESDAY, 18)
    held = book(client, w, slot, "cancel-book-1")
    assert pay(client, w, held["payment_id"], "cancel-pay-1").status_code == 200
    move_clock(session, clock, w, set=slot.starts_at - timedelta(hours=2, minutes=1))
    cancelled = act(client, w, held["id"], "cancel", "cancel-1")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    intent = fresh(session, LgPaymentIntent, held["payment_id"])
    assert (intent.status, intent.refunded_fen) == ("refunded", PRICE)
    refunds = session.scalars(sa.select(LgRefund).where(LgRefund.intent_id == intent.id)).all()
    assert [(r.amount_fen, r.status) for r in refunds] == [(PRICE, "succeeded")]
    told = outbox(session, "payment_refunded")
    assert [(m.recipient_id, m.payload["amount"]) for m in told] == [(str(w["alice"].id), "30.00元")]
    assert postings.verify(session) == {"accounts": [], "transfers": []}


def test_too_late_to_cancel_keeps_the_payment(client, session, clock, w):
    make_paid_court(client, w)
    slot = slot_of(session, "court-paid", TUESDAY, 18)
    held = book(client, w, slot, "late-cancel-book-1")
    assert pay(client, w, held["payment_id"], "late-cancel-pay-1").status_code == 200
    move_clock(session, clock, w, set=slot.starts_at - timedelta(hours=1))
    refused = act(client, w, held["id"], "cancel", "late-cancel-1")
    assert refused.status_code == 409 and refused.get_json()["code"] == "cancel_too_late"
    assert fresh(session, LgPaymentIntent, held["payment_id"]).refunded_fen == 0


def test_cancelling_an_unpaid_hold_closes_its_payment(client, session, clock, w):
    make_paid_court(client, w)
    held = book(client, w, slot_of(session, "court-paid", TUESDAY, 18), "hold-cancel-book-1")
    assert act(client, w, held["id"], "cancel", "hold-cancel-1").status_code == 200
    assert fresh(session, LgPaymentIntent, held["payment_id"]).status == "closed"
    assert pay(client, w, held["payment_id"], "hold-cancel-pay-1").get_json()["code"] == "payment_not_payable"
    assert outbox(session, "payment_refunded") == []


def test_a_closed_slot_refunds_its_paid_booking(client, session, clock, w):
    make_paid_court(client, w)
    slot = slot_of(session, "court-paid", TUESDAY, 18)
    held = book(client, w, slot, "closed-book-1")
    assert pay(client, w, held["payment_id"], "closed-pay-1").status_code == 200
    closed = client.post(f"{BASE}/slots/{slot.id}/close", json={"reason": "场地维修"},
                         headers={**w["h"]["manager_a"], "Idempotency-Key": "closed-slot-1"})
    assert closed.status_code == 200, closed.get_json()
    assert fresh(session, LgPaymentIntent, held["payment_id"]).status == "refunded"
    assert len(outbox(session, "payment_refunded")) == 1


def test_a_free_court_stays_free_and_a_move_to_another_price_is_refused(client, session, clock, w):
    make_paid_court(client, w, code="court-free", price=None)
    make_paid_court(client, w)
    free = book(client, w, slot_of(session, "court-free", TUESDAY, 18), "free-book-1")
    assert free["status"] == "confirmed" and free["payment_id"] is None and free["pass"]
    assert session.scalar(sa.select(sa.func.count()).select_from(LgPaymentIntent)) == 0
    moved = client.post(f"{BASE}/bookings/{free['id']}/reschedule",
                        json={"slot_id": slot_of(session, "court-paid", TUESDAY, 19).id},
                        headers={**w["h"]["alice"], "Idempotency-Key": "free-move-1"})
    assert moved.status_code == 422 and "slot_id" in moved.get_json()["errors"]


def test_a_price_must_be_a_positive_whole_number_of_fen(client, w):
    for bad in (0, -1, 1.5, "30", 10**12):
        resp = client.post(f"{BASE}/resources", headers=w["h"]["manager_a"],
                           json={"name": "球场", "kind": "unit", "capacity": 1, "address": "x",
                                 "hours": EVERY_DAY, "price_fen": bad})
        assert resp.status_code == 422 and "price_fen" in resp.get_json()["errors"], bad
