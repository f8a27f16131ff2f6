"""The ledger's test scenario (scenario.py) sells tickets through WeChat Pay (the local fake
server): each hook fires exactly once per state, whichever path books it — a notification
arriving twice, the query job after a lost notification (and the notification after that), the
expiry job, a refund sent by its timer and confirmed once however often it is retried, WeChat
Pay's refund notifications (REFUND.SUCCESS twice booked and told once; REFUND.ABNORMAL listed
for the operator and told; unknown or other amounts a discrepancy; forged refused). The race
of notifications and the query job on PostgreSQL is in test_race.py."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.worker import Worker
from scenarios.engines.ledger import payments, postings, purposes, settlement
from scenarios.engines.ledger.models import LgDiscrepancy, LgPaymentIntent, LgRefund
from tests.engines.ledger import scenario as lgt
from tests.engines.ledger.test_wechat_flow import NOTIFY, _resource
from tests.support.factories import bearer, make_org, make_resident, token_for


@pytest.fixture
def sold(app, session, clock, runtime):
    session.execute(sa.text(lgt.CREATE_HOOKS))
    with app.app_context():
        org = make_org(session, "venue_operator", name="售票场馆")
        payer = make_resident(session, name="买票人", openid="o-wx-ticket")
        intent = lgt.sell(session, ticket_no=1, payer_person_id=payer.person_id, payee_org_id=org.id,
                          amount_fen=2000, now=clock.now())
        headers = bearer(token_for(session, clock, payer))
        session.commit()
    assert intent.provider == "wechatpay"  # the configured provider
    return {"id": intent.id, "out_trade_no": intent.out_trade_no, "headers": headers}


def _hooks(db, intent_id):
    with db.transaction(write=False) as s:
        return lgt.hooks(s, intent_id)


def _pay(client, sold) -> None:
    answer = client.post(f"/api/v1/payments/{sold['id']}/pay", json={}, headers=sold["headers"])
    assert answer.status_code == 200, answer.json


def test_a_notification_arriving_twice_fires_on_paid_once(client, db, fake, sold):
    _pay(client, sold)
    headers, body = fake.notification(_resource(sold["out_trade_no"], total=2000))
    for _ in range(2):
        assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    assert _hooks(db, sold["id"]) == [("paid", "paid", 2000)]


def test_the_query_job_fires_on_paid_once_and_a_late_notification_nothing(client, db, fake, sold, runtime,
                                                                          clock):
    _pay(client, sold)
    fake.pay(sold["out_trade_no"], "4200000000000000000000000077")
    clock.advance(minutes=3)
    for _ in range(2):
        with db.transaction() as s:
            settlement.settle_pending(s, runtime.wechat, clock.now())
    headers, body = fake.notification(_resource(sold["out_trade_no"], total=2000,
                                                txn="4200000000000000000000000077"))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    assert _hooks(db, sold["id"]) == [("paid", "paid", 2000)]


def test_a_wrong_amount_fires_nothing(client, db, fake, sold):
    _pay(client, sold)
    headers, body = fake.notification(_resource(sold["out_trade_no"], total=1999))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    assert _hooks(db, sold["id"]) == []


def test_expiry_fires_on_closed_once_and_a_payment_reported_after_it_on_paid(client, db, fake, sold, clock):
    clock.advance(minutes=16)
    for _ in range(2):
        with db.transaction() as s:
            payments.close_expired(s, clock.now())
    headers, body = fake.notification(_resource(sold["out_trade_no"], total=2000))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    assert _hooks(db, sold["id"]) == [("closed", "closed", 0), ("paid", "paid", 2000)]


def test_a_refund_is_sent_by_its_timer_and_fires_on_refunded_once(client, db, fake, sold, runtime, clock,
                                                                    monkeypatch):
    from scenarios.engines.ledger import jobs

    monkeypatch.setattr(jobs, "process_runtime", lambda: runtime)
    _pay(client, sold)
    headers, body = fake.notification(_resource(sold["out_trade_no"], total=2000))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    fake.refund_failures = 1
    with db.transaction() as s:
        assert purposes.refund(s, s.get(LgPaymentIntent, sold["id"]), now=clock.now(), amount_fen=500) == 500
    Worker(db, clock, worker_id="lg", periodic_jobs={}).run_once()  # the timer: WeChat Pay fails once
    assert _hooks(db, sold["id"]) == [("paid", "paid", 2000)]
    clock.advance(minutes=6)
    for _ in range(2):
        with db.transaction() as s:
            settlement.retry_refunds(s, runtime.wechat, clock.now())
    assert _hooks(db, sold["id"]) == [("paid", "paid", 2000), ("refunded", "partially_refunded", 500)]
    with db.transaction(write=False) as s:
        row = s.scalars(sa.select(LgRefund).where(LgRefund.intent_id == sold["id"])).one()
        assert (row.status, row.attempts) == ("succeeded", 2)


def _refund_resource(out_trade_no: str, out_refund_no: str, amount: int, status: str = "SUCCESS") -> dict:
    return {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no, "refund_id": "50000000001",
            "refund_status": status, "amount": {"total": 2000, "refund": amount, "payer_total": 2000,
                                                 "payer_refund": amount}}


def _paid_then_refund_processing(client, db, fake, sold, clock, runtime) -> LgRefund:
    _pay(client, sold)
    headers, body = fake.notification(_resource(sold["out_trade_no"], total=2000))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    fake.refund_status = "PROCESSING"  # WeChat Pay answers the refund later, by notification
    with db.transaction() as s:
        intent = s.get(LgPaymentIntent, sold["id"])
        row = settlement.request_refund(s, intent, amount_fen=800, now=clock.now(), reason="退票")
        settlement.send_refund(s, row, runtime.wechat, clock.now())
        return row


def _outbox(db, template: str) -> list:
    from app.notify.models import OutboxMessage

    with db.transaction(write=False) as s:
        return [(m.event_key, m.payload["amount"]) for m in s.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.template == template))]


def test_refund_success_notification_twice_books_it_once_and_tells_the_payer_once(app, client, db, fake, sold,
                                                                                  clock, runtime):
    with app.app_context():
        row = _paid_then_refund_processing(client, db, fake, sold, clock, runtime)
    assert _hooks(db, sold["id"]) == [("paid", "paid", 2000)]  # PROCESSING: not yet
    headers, body = fake.notification(_refund_resource(sold["out_trade_no"], row.out_refund_no, 800))
    for _ in range(2):
        assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    assert _hooks(db, sold["id"]) == [("paid", "paid", 2000), ("refunded", "partially_refunded", 800)]
    assert _outbox(db, "payment_refunded") == [(f"payment_refunded:{row.id}", "8.00元")]
    with db.transaction(write=False) as s:
        assert s.get(LgRefund, row.id).status == "succeeded"
        assert postings.verify(s) == {"accounts": [], "transfers": []}


def test_refund_abnormal_is_listed_for_the_operator_and_told_and_a_later_success_still_books(
        app, client, db, fake, sold, clock, runtime):
    with app.app_context():
        row = _paid_then_refund_processing(client, db, fake, sold, clock, runtime)
    headers, body = fake.notification(_refund_resource(sold["out_trade_no"], row.out_refund_no, 800, "ABNORMAL"))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    with db.transaction(write=False) as s:
        assert (s.get(LgRefund, row.id).status, s.get(LgPaymentIntent, sold["id"]).refunded_fen) == ("failed", 800)
        found = s.scalars(sa.select(LgDiscrepancy).where(LgDiscrepancy.intent_id == sold["id"])).all()
        assert [(d.kind, d.expected_fen, d.details["refund_status"]) for d in found] == [
            ("refund_abnormal", 800, "ABNORMAL")]
    assert _outbox(db, "payment_refund_abnormal") == [(f"payment_refund_abnormal:{row.id}", "8.00元")]
    assert _hooks(db, sold["id"]) == [("paid", "paid", 2000)]
    headers, body = fake.notification(_refund_resource(sold["out_trade_no"], row.out_refund_no, 800))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204  # settled by hand, then SUCCESS
    assert _hooks(db, sold["id"])[-1] == ("refunded", "partially_refunded", 800)


def test_a_refund_notification_for_an_unknown_refund_or_another_amount_is_a_discrepancy(app, client, db, fake,
                                                                                        sold, clock, runtime):
    with app.app_context():
        row = _paid_then_refund_processing(client, db, fake, sold, clock, runtime)
    for resource in (_refund_resource(sold["out_trade_no"], "Rnosuchrefund00000000000", 800),
                     _refund_resource(sold["out_trade_no"], row.out_refund_no, 900)):
        headers, body = fake.notification(resource)
        assert client.post(NOTIFY, data=body, headers=headers).status_code == 204
    with db.transaction(write=False) as s:
        assert s.get(LgRefund, row.id).status == "pending"
        kinds = s.execute(sa.select(LgDiscrepancy.kind, LgDiscrepancy.reported_fen).order_by(LgDiscrepancy.id)).all()
        assert [tuple(k) for k in kinds][-2:] == [("unknown_order", 800), ("amount_differs", 900)]
    assert _outbox(db, "payment_refunded") == []


def test_a_forged_refund_notification_is_refused(app, client, db, fake, sold, clock, runtime):
    from cryptography.hazmat.primitives.asymmetric import rsa

    with app.app_context():
        row = _paid_then_refund_processing(client, db, fake, sold, clock, runtime)
    headers, body = fake.notification(_refund_resource(sold["out_trade_no"], row.out_refund_no, 800),
                                      key=rsa.generate_private_key(65537, 2048))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 401
    with db.transaction(write=False) as s:
        assert s.get(LgRefund, row.id).status == "pending"


def _close_timer(db, intent_id):
    from app.timers import Timer

    with db.transaction(write=False) as s:
        timer = s.scalars(sa.select(Timer).where(Timer.subject_type == "lg_payment_intent",
                                                 Timer.subject_id == str(intent_id),
                                                 Timer.kind == payments.CLOSE_AT_PROVIDER)).one()
        return timer.state, timer.attempts


def test_a_seller_closing_closes_the_order_at_wechat_pay_through_the_worker_retried_while_it_is_down(
        client, db, fake, sold, runtime, clock, monkeypatch):
    from scenarios.engines.ledger import jobs

    monkeypatch.setattr(jobs, "process_runtime", lambda: runtime)
    _pay(client, sold)  # ordered at WeChat Pay: NOTPAY there
    fake.down = True
    with db.transaction() as s:
        assert purposes.close(s, s.get(LgPaymentIntent, sold["id"]), now=clock.now())
    assert fake.orders[sold["out_trade_no"]]["trade_state"] == "NOTPAY"  # not before the commit, not in it
    Worker(db, clock, worker_id="lg", periodic_jobs={}).run_once()
    assert _close_timer(db, sold["id"]) == ("pending", 1)  # WeChat Pay down: retried later
    assert fake.orders[sold["out_trade_no"]]["trade_state"] == "NOTPAY"
    fake.down = False
    clock.advance(seconds=11)
    Worker(db, clock, worker_id="lg", periodic_jobs={}).run_once()
    assert _close_timer(db, sold["id"]) == ("fired", 1)
    assert fake.orders[sold["out_trade_no"]]["trade_state"] == "CLOSED" and fake.closed.count(sold["out_trade_no"]) == 1
    assert _hooks(db, sold["id"]) == [("closed", "closed", 0)]


def test_expiry_closes_at_wechat_pay_and_a_payment_made_just_before_is_booked_and_handed_to_the_seller(
        client, db, fake, sold, runtime, clock, monkeypatch):
    from scenarios.engines.ledger import jobs

    monkeypatch.setattr(jobs, "process_runtime", lambda: runtime)
    _pay(client, sold)
    clock.advance(minutes=16)
    with db.transaction() as s:
        assert payments.close_expired(s, clock.now()) == [sold["id"]]
    fake.pay(sold["out_trade_no"], "4200000000000000000000000078")  # paid there before the close reached it
    Worker(db, clock, worker_id="lg", periodic_jobs={}).run_once()  # close: ORDERPAID → queried and booked
    assert _close_timer(db, sold["id"]) == ("fired", 0)
    assert _hooks(db, sold["id"]) == [("closed", "closed", 0), ("paid", "paid", 2000)]
    headers, body = fake.notification(_resource(sold["out_trade_no"], total=2000))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204  # its notification: nothing more
    assert _hooks(db, sold["id"]) == [("closed", "closed", 0), ("paid", "paid", 2000)]


def test_an_intent_never_ordered_at_wechat_pay_needs_no_close_there(db, fake, sold, runtime, clock, monkeypatch):
    from scenarios.engines.ledger import jobs

    monkeypatch.setattr(jobs, "process_runtime", lambda: runtime)
    clock.advance(minutes=16)  # the payer never pressed pay
    with db.transaction() as s:
        payments.close_expired(s, clock.now())
    Worker(db, clock, worker_id="lg", periodic_jobs={}).run_once()  # 404 ORDER_NOT_EXIST: done, not retried
    assert _close_timer(db, sold["id"]) == ("fired", 0)
    assert sold["out_trade_no"] not in fake.closed
