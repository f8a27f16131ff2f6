"""The ledger's periodic jobs: registered with the worker, closing expired intents, reconciling
yesterday's bill once it exists, and reporting (never fixing) a ledger that disagrees."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.periodic import PERIODIC_JOBS
from scenarios.engines.ledger import jobs, payments, postings, wechatpay
from scenarios.engines.ledger.models import LgDiscrepancy
from scenarios.engines.ledger.setup import LedgerRuntime
from tests.support import fake_wechatpay as fw
from tests.support.factories import make_org, make_resident


@pytest.fixture
def world(app, session):
    with app.app_context():
        org = make_org(session, "venue_operator", name="收款场馆")
        payer = make_resident(session, name="付款人")
        session.flush()
        yield org.id, payer.person_id


def test_the_jobs_are_registered():
    assert {"ledger_close_expired", "ledger_settle_pending", "ledger_retry_refunds", "ledger_reconcile",
            "ledger_verify"} <= set(PERIODIC_JOBS)


def test_close_expired_and_verify(session, clock, world, caplog):
    payments.create(session, scenario="lg-test", payer_person_id=world[1], payee_org_id=world[0], amount_fen=5,
                    description="x", now=clock.now())
    clock.advance(hours=1)
    assert jobs.close_expired(session, clock) == 1
    assert jobs.verify(session, clock) == 0
    a = postings.account(session, "payer", world[1], now=clock.now())
    b = postings.account(session, "organisation", world[0], now=clock.now())
    postings.post(session, kind="adjustment", debit=a, credit=b, amount=3, reference="t", now=clock.now())
    session.execute(sa.text("UPDATE lg_accounts SET balance = 0 WHERE id = :id"), {"id": b})
    with caplog.at_level(logging.ERROR, logger="scenarios.engines.ledger.jobs"):
        assert jobs.verify(session, clock) == 1
    assert "disagree" in caplog.text
    assert postings.cached_balance(session, b) == 0  # reported, not fixed


def test_reconcile_yesterday_downloads_the_bill_and_records_differences(session, clock, world, monkeypatch):
    fake = fw.FakeWeChatPay()
    server, base = fw.start(fake)
    try:
        config = wechatpay.WeChatPayConfig(appid=fw.APPID, mchid=fw.MCHID, apiv3_key=fw.APIV3_KEY,
                                           cert_serial_no=fw.MERCHANT_SERIAL, private_key=fake.merchant_private_pem,
                                           public_key=fake.platform_public_pem, public_key_id=fw.PUBLIC_KEY_ID,
                                           notify_url="https://example.invalid/n", api_base=base)
        runtime = LedgerRuntime("wechatpay", config, wechatpay.client(config))
        monkeypatch.setattr(jobs, "process_runtime", lambda: runtime)
        fake.bill = ("交易时间,微信订单号,商户订单号,交易状态,订单金额\n"
                     "`2026-12-03 10:00:00,`4200000001,`Pnotours0000000000000001,`SUCCESS,`12.34\n")
        clock.set(datetime(2026, 12, 4, 1, 0, tzinfo=UTC))  # 09:00 in Beijing: the bill is not ready
        assert jobs.reconcile_yesterday(session, clock) == 0
        clock.set(datetime(2026, 12, 4, 3, 0, tzinfo=UTC))  # 11:00
        assert jobs.reconcile_yesterday(session, clock) == 1
        row = session.scalars(sa.select(LgDiscrepancy)).one()
        assert (row.kind, row.reported_fen, str(row.bill_date)) == ("missing_here", 1234, "2026-12-03")
    finally:
        server.shutdown()
