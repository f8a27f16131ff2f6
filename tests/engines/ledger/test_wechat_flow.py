"""Paying through WeChat Pay end to end in the application, against the local WeChat Pay server:
prepay, the notification booked once, a forged or replayed one refused, a wrong amount or an
unknown order recorded as a discrepancy, WeChat Pay down (pending, 503, the resident told), a
lost notification settled by the query job."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from auth.organisations import Organisation
from scenarios.engines.ledger import payments, postings, settlement
from scenarios.engines.ledger.models import LgDiscrepancy, LgPaymentIntent, LgRefund, LgTransfer
from tests.support.factories import bearer, make_org, make_resident, make_staff, token_for

NOTIFY = "/api/v1/payments/notify/wechatpay"


@pytest.fixture
def world(app, session, clock, runtime):
    with app.app_context():
        org = make_org(session, "venue_operator", name="收款场馆")
        payer = make_resident(session, name="微信付款人", openid="o-wx-payer")
        intent = payments.create(session, scenario="lg-test", payer_person_id=payer.person_id, payee_org_id=org.id,
                                 amount_fen=1500, description="羽毛球场", now=clock.now(), provider="wechatpay")
        headers = bearer(token_for(session, clock, payer))
        session.commit()
        return {"intent": intent.id, "out_trade_no": intent.out_trade_no, "headers": headers}


def _resource(out_trade_no: str, total: int = 1500, txn: str = "4200000000000000000000000001") -> dict:
    return {"out_trade_no": out_trade_no, "transaction_id": txn, "trade_state": "SUCCESS",
            "amount": {"total": total, "payer_total": total, "currency": "CNY"}}


def _status(db, intent_id: int) -> str:
    with db.transaction(write=False) as s:
        return s.get(LgPaymentIntent, intent_id).status


def _payments_booked(db, intent_id: int) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(LgTransfer)
                        .where(LgTransfer.reference == f"intent:{intent_id}"))


def test_prepay_then_a_notification_arriving_twice_books_the_payment_once(client, db, fake, world):
    answer = client.post(f"/api/v1/payments/{world['intent']}/pay", json={}, headers=world["headers"])
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "pending" and answer.json["request_payment"]["package"].startswith("prepay_id=")
    assert fake.orders[world["out_trade_no"]]["payer"] == {"openid": "o-wx-payer"}
    headers, body = fake.notification(_resource(world["out_trade_no"]))
    first = client.post(NOTIFY, data=body, headers=headers)
    again = client.post(NOTIFY, data=body, headers=headers)  # WeChat Pay retries: same notification
    assert (first.status_code, again.status_code) == (204, 204)
    assert _status(db, world["intent"]) == "paid" and _payments_booked(db, world["intent"]) == 1


def test_forged_and_replayed_notifications_are_refused_and_book_nothing(client, db, fake, world):
    headers, body = fake.notification(_resource(world["out_trade_no"]), key=rsa.generate_private_key(65537, 2048))
    forged = client.post(NOTIFY, data=body, headers=headers)
    headers, body = fake.notification(_resource(world["out_trade_no"]), timestamp=int(time.time()) - 3600)
    replayed = client.post(NOTIFY, data=body, headers=headers)
    assert (forged.status_code, forged.json["code"]) == (401, "notification_rejected")
    assert (replayed.status_code, replayed.json["code"]) == (401, "notification_rejected")
    assert _status(db, world["intent"]) == "created" and _payments_booked(db, world["intent"]) == 0


def test_a_wrong_amount_or_an_unknown_order_is_a_discrepancy(client, db, fake, world):
    for resource in (_resource(world["out_trade_no"], total=1), _resource("Pnosuchorder000000000000")):
        headers, body = fake.notification(resource)
        assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    assert _status(db, world["intent"]) == "created"
    with db.transaction(write=False) as s:
        kinds = s.execute(sa.select(LgDiscrepancy.kind, LgDiscrepancy.reported_fen)
                          .order_by(LgDiscrepancy.id)).all()
    assert [tuple(k) for k in kinds][-2:] == [("amount_differs", 1), ("unknown_order", 1500)]


def test_wechat_pay_down_keeps_the_intent_pending_and_tells_the_resident(client, db, fake, world):
    fake.down = True
    answer = client.post(f"/api/v1/payments/{world['intent']}/pay", json={}, headers=world["headers"])
    assert (answer.status_code, answer.json["code"]) == (503, "payment_provider_unavailable")
    assert answer.headers["Retry-After"] == "5" and "稍后" in answer.json["message"]
    assert _status(db, world["intent"]) == "pending"
    fake.down = False
    again = client.post(f"/api/v1/payments/{world['intent']}/pay", json={}, headers=world["headers"])
    assert again.status_code == 200 and again.json["request_payment"]


def test_a_notification_that_never_arrives_is_settled_by_the_query_job(client, db, fake, world, runtime, clock):
    assert client.post(f"/api/v1/payments/{world['intent']}/pay", json={}, headers=world["headers"]).status_code == 200
    fake.pay(world["out_trade_no"], "4200000000000000000000000009")
    with db.transaction() as s:
        assert settlement.settle_pending(s, runtime.wechat, clock.now())["booked"] == 0  # too recent to query
    clock.advance(minutes=3)
    with db.transaction() as s:
        assert settlement.settle_pending(s, runtime.wechat, clock.now())["booked"] == 1
    with db.transaction() as s:
        assert settlement.settle_pending(s, runtime.wechat, clock.now())["booked"] == 0  # nothing pending now
    assert _status(db, world["intent"]) == "paid" and _payments_booked(db, world["intent"]) == 1
    with db.transaction(write=False) as s:
        assert postings.verify(s) == {"accounts": [], "transfers": []}


def test_the_query_job_leaves_intents_pending_while_wechat_pay_is_down(client, db, fake, world, runtime, clock):
    assert client.post(f"/api/v1/payments/{world['intent']}/pay", json={}, headers=world["headers"]).status_code == 200
    fake.down = True
    clock.advance(minutes=3)
    with db.transaction() as s:
        assert settlement.settle_pending(s, runtime.wechat, clock.now())["unreachable"] == 1
    assert _status(db, world["intent"]) == "pending"


def _paid_by_notification(client, fake, world) -> None:
    assert client.post(f"/api/v1/payments/{world['intent']}/pay", json={}, headers=world["headers"]).status_code == 200
    headers, body = fake.notification(_resource(world["out_trade_no"]))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204


def test_a_refund_that_fails_is_sent_again_by_the_retry_job_and_booked_once(app, client, db, fake, world, runtime,
                                                                            clock):
    _paid_by_notification(client, fake, world)
    with app.app_context(), db.transaction() as s:
        intent = s.get(LgPaymentIntent, world["intent"])
        manager = make_staff(s, s.get(Organisation, intent.payee_org_id), "manager")
        headers = bearer(token_for(s, clock, manager, s.get(Organisation, intent.payee_org_id)))
    fake.refund_failures = 1
    answer = client.post(f"/api/v1/payments/{world['intent']}/refunds", json={"amount_fen": 500}, headers=headers)
    assert answer.status_code == 201, answer.json
    assert (answer.json["status"], answer.json["payment"]["refunded_fen"]) == ("pending", 500)  # reserved
    with db.transaction() as s:
        assert settlement.retry_refunds(s, runtime.wechat, clock.now()) == 0  # not yet due
    clock.advance(minutes=6)
    with db.transaction() as s:
        assert settlement.retry_refunds(s, runtime.wechat, clock.now()) == 1
    with db.transaction() as s:
        assert settlement.retry_refunds(s, runtime.wechat, clock.now()) == 0  # settled: nothing to send
    with db.transaction(write=False) as s:
        refund = s.scalars(sa.select(LgRefund).where(LgRefund.intent_id == world["intent"])).one()
        assert (refund.status, refund.attempts) == ("succeeded", 2)
        refunds_booked = s.scalar(sa.select(sa.func.count()).select_from(LgTransfer)
                                  .where(LgTransfer.reference == f"refund:{refund.id}"))
        assert refunds_booked == 1 and postings.verify(s) == {"accounts": [], "transfers": []}
    assert [r["out_refund_no"] for r in fake.refunds][-1:] == [refund.out_refund_no]
