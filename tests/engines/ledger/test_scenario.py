"""The ledger's test scenario (scenario.py) sells tickets through WeChat Pay (the local fake
server): each hook fires exactly once per state, whichever path books it — a notification
arriving twice, the query job after a lost notification (and the notification after that), the
expiry job, a refund sent by its timer and confirmed once however often it is retried. The race
of notifications and the query job on PostgreSQL is in test_race.py."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.worker import Worker
from scenarios.engines.ledger import payments, purposes, settlement
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund
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
