"""Operators' daily figures and export (from the ledger's transfers, Beijing days), and the
reconciliation of a trade bill against the ledger: every difference listed, nothing fixed."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from scenarios.engines.ledger import payments, reconcile
from scenarios.engines.ledger.models import LgDiscrepancy, LgPaymentIntent, LgRefund
from tests.support.factories import bearer, make_org, make_resident, make_staff, token_for

BILL_HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
               "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
               "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")


def _bill_row(number: str, yuan: str, status: str = "SUCCESS", fee: str = "0.01") -> str:
    cells = ["2026-12-04 10:00:00", "wxapp", "1900000109", "0", "", "4200" + number[-6:], number, "openid", "JSAPI",
             status, "OTHERS", "CNY", yuan, "0.00", "0", "0", "0.00", "0.00", "", "", "场馆", "", fee, "0.60%",
             yuan, "0.00", ""]
    return ",".join("`" + c for c in cells)


@pytest.fixture
def world(app, session, clock):
    with app.app_context():
        org = make_org(session, "venue_operator", name="收款场馆")
        other = make_org(session, "venue_operator", name="别家")
        payer = make_resident(session, name="付款人")
        manager = make_staff(session, org, "manager")
        session.flush()
        yield {"org": org.id, "other": other.id, "payer": payer.person_id,
               "token": lambda: bearer(token_for(session, clock, manager, org))}


def _paid(session, clock, world, *, amount, scenario="lg-test", org=None, provider="record", at=None):
    clock.set(at or clock.now())
    intent = payments.create(session, scenario=scenario, payer_person_id=world["payer"],
                             payee_org_id=org or world["org"], amount_fen=amount, description="x", now=clock.now(),
                             provider=provider)
    payments.mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=amount, provider_txn_id="t" +
                       intent.out_trade_no, now=clock.now())
    return intent


def test_daily_figures_per_beijing_day_and_scenario_and_their_export(app, client, session, clock, world):
    late = datetime(2026, 12, 4, 15, 59, tzinfo=UTC)  # 23:59 on the 4th in Beijing
    first = _paid(session, clock, world, amount=1000, at=late)
    _paid(session, clock, world, amount=500, scenario="lg-other", at=late)
    _paid(session, clock, world, amount=700, at=datetime(2026, 12, 4, 16, 0, tzinfo=UTC))  # the 5th
    _paid(session, clock, world, amount=9999, org=world["other"], at=late)  # another payee's
    session.refresh(first)
    clock.set(datetime(2026, 12, 4, 16, 30, tzinfo=UTC))
    row = payments.refund(session, first, amount_fen=300, now=clock.now())
    payments.settle_refund(session, row, succeeded=True, now=clock.now())  # on the 5th
    with app.app_context():
        world["headers"] = world["token"]()
    session.commit()
    answer = client.get("/api/v1/ledger/daily?date_from=2026-12-04&date_to=2026-12-05", headers=world["headers"])
    assert answer.status_code == 200, answer.json
    got = [(i["date"], i["scenario"], i["payments"], i["payments_fen"], i["refunds_fen"], i["net_fen"])
           for i in answer.json["items"]]
    assert got == [("2026-12-04", "lg-other", 1, 500, 0, 500), ("2026-12-04", "lg-test", 1, 1000, 0, 1000),
                   ("2026-12-05", "lg-test", 1, 700, 300, 400)]
    csv_answer = client.get("/api/v1/ledger/daily?date_from=2026-12-04&date_to=2026-12-05&format=csv",
                            headers=world["headers"])
    text = csv_answer.data.decode("utf-8-sig").splitlines()
    assert text[0].startswith("日期,场景") and text[3] == "2026-12-05,lg-test,1,700,1,300,400,0,400"
    xlsx = client.get("/api/v1/ledger/daily?date_from=2026-12-04&date_to=2026-12-05&format=xlsx",
                      headers=world["headers"])
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    assert rows[3] == ("2026-12-05", "lg-test", 1, 700, 1, 300, 400, 0, 400)
    reversed_ = client.get("/api/v1/ledger/daily?date_from=2026-12-05&date_to=2026-12-04", headers=world["headers"])
    assert (reversed_.status_code, reversed_.json["code"]) == (422, "validation_error")


def test_reconciliation_lists_every_difference_once_and_fixes_nothing(session, clock, world):
    day_time = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    same = _paid(session, clock, world, amount=2000, provider="wechatpay", at=day_time)
    differs = _paid(session, clock, world, amount=1500, provider="wechatpay", at=day_time)
    absent = _paid(session, clock, world, amount=800, provider="wechatpay", at=day_time)
    bill = "\n".join([BILL_HEADER, _bill_row(same.out_trade_no, "20.00"), _bill_row(differs.out_trade_no, "15.01"),
                      _bill_row("Pnotours00000000000000001", "3.00"),
                      _bill_row("Prefundrow000000000000001", "1.00", status="REFUND"),
                      "总交易单数,应结订单总金额", "`4,`39.01"])
    lines = reconcile.parse_bill(bill)
    assert [(li.out_trade_no, li.amount_fen) for li in lines][:2] == [(same.out_trade_no, 2000),
                                                                      (differs.out_trade_no, 1501)]
    found = reconcile.reconcile(session, bill=lines, day=date(2026, 12, 4), now=clock.now())
    got = sorted((d.kind, d.out_trade_no, d.expected_fen, d.reported_fen) for d in found)
    assert got == sorted([("amount_differs", differs.out_trade_no, 1500, 1501),
                          ("missing_here", "Pnotours00000000000000001", None, 300),
                          ("missing_there", absent.out_trade_no, 800, None)])
    assert reconcile.reconcile(session, bill=lines, day=date(2026, 12, 4), now=clock.now()) == []  # once
    assert session.scalar(sa.select(sa.func.count()).select_from(LgDiscrepancy)) == 3
    amounts = dict(session.execute(sa.select(LgPaymentIntent.out_trade_no, LgPaymentIntent.amount_fen)).all())
    assert amounts[differs.out_trade_no] == 1500  # nothing fixed


def test_a_file_that_is_not_a_trade_bill_is_refused(session):
    with pytest.raises(ValueError, match="not a trade bill"):
        reconcile.parse_bill("a,b,c\n1,2,3\n")


def test_reconciliation_records_each_payments_fee_and_the_figures_show_fees_and_net_after_them(
        app, client, session, clock, world):
    day_time = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    a = _paid(session, clock, world, amount=10000, provider="wechatpay", at=day_time)
    b = _paid(session, clock, world, amount=5000, provider="wechatpay", at=day_time)
    _paid(session, clock, world, amount=700, at=day_time)  # record provider: no fee
    with app.app_context():
        world["headers"] = world["token"]()
    session.commit()

    def figures():
        answer = client.get("/api/v1/ledger/daily?date_from=2026-12-04&date_to=2026-12-04", headers=world["headers"])
        assert answer.status_code == 200, answer.json
        return [(i["payments_fen"], i["fees_fen"], i["net_after_fees_fen"], i["fees_reconciled"])
                for i in answer.json["items"]]

    assert figures() == [(15700, 0, 15700, False)]  # not reconciled yet
    bill = "\n".join([BILL_HEADER, _bill_row(a.out_trade_no, "100.00", fee="0.60"),
                      _bill_row(b.out_trade_no, "50.00", fee="0.30")])
    assert reconcile.reconcile(session, bill=reconcile.parse_bill(bill), day=date(2026, 12, 4), now=clock.now()) == []
    session.commit()
    fees = dict(session.execute(sa.select(LgPaymentIntent.out_trade_no, LgPaymentIntent.fee_fen)).all())
    assert (fees[a.out_trade_no], fees[b.out_trade_no]) == (60, 30)
    assert figures() == [(15700, 90, 15610, True)]
    assert reconcile.record_fees(session, reconcile.parse_bill(bill)) == 0  # recorded once: nothing changes
    session.commit()
    text = client.get("/api/v1/ledger/daily?date_from=2026-12-04&date_to=2026-12-04&format=csv",
                      headers=world["headers"]).data.decode("utf-8-sig").splitlines()
    assert text[0].endswith("手续费(分),扣除手续费后净收入(分)") and text[1].endswith(",15700,90,15610")


def _refund_row(number: str, out_refund_no: str, yuan: str, fee: str, status: str = "SUCCESS") -> str:
    cells = ["2026-12-04 11:00:00", "wxapp", "1900000109", "0", "", "4200" + number[-6:], number, "openid", "JSAPI",
             "REFUND", "OTHERS", "CNY", "0.00", "0.00", "5030" + out_refund_no[-6:], out_refund_no, yuan, "0.00",
             "ORIGINAL", status, "场馆", "", fee, "0.60%", "100.00", yuan, ""]
    return ",".join("`" + c for c in cells)


def test_refund_lines_fees_are_recorded_and_the_figures_fees_are_net_of_them(app, client, session, clock, world):
    day_time = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    a = _paid(session, clock, world, amount=10000, provider="wechatpay", at=day_time)
    b = _paid(session, clock, world, amount=5000, provider="wechatpay", at=day_time)
    session.refresh(a)
    session.refresh(b)
    same_day = payments.refund(session, a, amount_fen=4000, now=clock.now())
    payments.settle_refund(session, same_day, succeeded=True, now=clock.now())  # booked on the 4th
    clock.set(datetime(2026, 12, 5, 2, 0, tzinfo=UTC))
    next_day = payments.refund(session, b, amount_fen=1000, now=clock.now())
    payments.settle_refund(session, next_day, succeeded=True, now=clock.now())  # booked on the 5th
    with app.app_context():
        world["headers"] = world["token"]()
    session.commit()

    def figures():
        answer = client.get("/api/v1/ledger/daily?date_from=2026-12-04&date_to=2026-12-05", headers=world["headers"])
        assert answer.status_code == 200, answer.json
        return [(i["date"], i["refunds_fen"], i["fees_fen"], i["net_after_fees_fen"], i["fees_reconciled"])
                for i in answer.json["items"]]

    assert figures() == [("2026-12-04", 4000, 0, 11000, False), ("2026-12-05", 1000, 0, -1000, False)]
    text = "\n".join([BILL_HEADER, _bill_row(a.out_trade_no, "100.00", fee="0.60"),
                      _bill_row(b.out_trade_no, "50.00", fee="0.30"),
                      _refund_row(a.out_trade_no, same_day.out_refund_no, "40.00", fee="-0.24"),
                      _refund_row(b.out_trade_no, "Rnotours000000000000000001", "5.00", fee="-0.03"),
                      _refund_row(b.out_trade_no, next_day.out_refund_no, "10.00", fee="-0.06", status="PROCESSING"),
                      "总交易单数,应结订单总金额", "`3,`150.00"])
    bill = reconcile.read_bill(text)
    assert [line.out_trade_no for line in bill.payments] == [a.out_trade_no, b.out_trade_no]
    assert [(r.out_refund_no, r.refund_fen, r.fee_fen) for r in bill.refunds] == [
        (same_day.out_refund_no, 4000, -24), ("Rnotours000000000000000001", 500, -3)]  # PROCESSING: not yet
    assert reconcile.reconcile(session, bill=bill.payments, refunds=bill.refunds, day=date(2026, 12, 4),
                               now=clock.now()) == []  # a refund line we do not know is no payment difference
    session.commit()
    fees = dict(session.execute(sa.select(LgRefund.out_refund_no, LgRefund.fee_fen)).all())
    assert fees == {same_day.out_refund_no: -24, next_day.out_refund_no: None}
    # the 4th: fees 60 + 30 − 24 returned; the 5th's refund is in the next bill: not reconciled yet
    assert figures() == [("2026-12-04", 4000, 66, 15000 - 4000 - 66, True), ("2026-12-05", 1000, 0, -1000, False)]
    assert reconcile.record_refund_fees(session, bill.refunds) == 0  # recorded once: nothing changes
    later = reconcile.read_bill("\n".join([BILL_HEADER, _refund_row(b.out_trade_no, next_day.out_refund_no, "10.00",
                                                                    fee="-0.06")]))
    reconcile.reconcile(session, bill=later.payments, refunds=later.refunds, day=date(2026, 12, 5), now=clock.now())
    session.commit()
    assert figures()[1] == ("2026-12-05", 1000, -6, -1000 + 6, True)
