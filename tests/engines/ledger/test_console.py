"""The ledger's console pages: an operator's money per Beijing day (chart, table, the API's
CSV/XLSX export) and the reconciliation differences — the organisation's own, the district's
staff every one; the navigation and the pages only for those who may use them (403 otherwise)."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from scenarios.engines.ledger import payments, reconcile
from tests.engines.ledger.test_figures_reconcile import BILL_HEADER, _bill_row, _paid
from tests.support.console import sign_in
from tests.support.factories import make_org, make_resident, make_staff

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
LEDGER = "/console/ledger"
DAY = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 10:00 on the 4th in Beijing


@pytest.fixture
def world(session):
    """Two payees (``_paid``'s world; in the stand-in context of ``ctx``, not the app's: the
    test client's requests would share ``g`` in the app's own)."""
    payee, other = make_org(session, "venue_operator", name="收款场馆"), make_org(session, "venue_operator")
    return {"org": payee.id, "other": other.id, "payer": make_resident(session, name="付款人").person_id,
            "payee": payee, "other_org": other}


@pytest.fixture
def people(session, world):
    district, company = make_org(session, "district"), make_org(session, "property_company")
    return {"manager": make_staff(session, world["payee"], "manager"),
            "other": make_staff(session, world["other_org"], "manager"),
            "district": make_staff(session, district, "admin"), "company": make_staff(session, company, "manager")}


def _as(client, account):
    sign_in(client, account.username)
    return client


def test_an_operator_reads_its_money_per_day_as_chart_and_table_and_exports_what_the_api_exports(
        client, session, clock, world, people):
    first = _paid(session, clock, world, amount=1000, at=datetime(2026, 12, 4, 15, 59, tzinfo=UTC))  # the 4th
    _paid(session, clock, world, amount=700, at=datetime(2026, 12, 4, 16, 0, tzinfo=UTC))  # the 5th in Beijing
    _paid(session, clock, world, amount=9999, org=world["other"], at=datetime(2026, 12, 4, 15, 0, tzinfo=UTC))
    clock.set(datetime(2026, 12, 4, 16, 30, tzinfo=UTC))
    session.refresh(first)
    payments.settle_refund(session, payments.refund(session, first, amount_fen=300, now=clock.now()), succeeded=True,
                           now=clock.now())
    session.commit()
    _as(client, people["manager"])
    home = client.get("/console/").get_data(as_text=True)
    assert "收支 · 每日收入" in home and "收支 · 对账差异" in home
    resp = client.get(f"{LEDGER}/daily?date_from=2026-12-04&date_to=2026-12-05")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<svg" in page and 'role="img"' in page
    day4 = page.split('id="day-2026-12-04-lg-test"')[1].split("</tr>")[0]
    day5 = page.split('id="day-2026-12-05-lg-test"')[1].split("</tr>")[0]
    assert "10.00" in day4 and "7.00" in day5 and "3.00" in day5 and "4.00" in day5  # refund on the 5th: net 4
    assert "99.99" not in page  # another payee's payment
    assert "收款 17.00 元，退款 3.00 元" in page and "净收入 14.00 元" in page
    assert client.get(f"{LEDGER}/daily").status_code == 200  # the last 14 days by default
    csv_answer = client.get(f"{LEDGER}/daily?date_from=2026-12-04&date_to=2026-12-05&format=csv")
    assert csv_answer.headers["Content-Disposition"] == 'attachment; filename="ledger-20261204-20261205.csv"'
    assert csv_answer.data.decode("utf-8-sig").splitlines()[2] == "2026-12-05,lg-test,1,700,1,300,400,0,400"
    xlsx = client.get(f"{LEDGER}/daily?date_from=2026-12-04&date_to=2026-12-05&format=xlsx")
    assert list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))[1][:4] == (
        "2026-12-04", "lg-test", 1, 1000)
    reversed_ = client.get(f"{LEDGER}/daily?date_from=2026-12-05&date_to=2026-12-04")
    assert reversed_.status_code == 422 and "date_to" in reversed_.get_data(as_text=True)
    assert client.get(f"{LEDGER}/daily?date_from=2025-01-01&date_to=2026-12-04").status_code == 422  # > 366 days
    assert client.get(f"{LEDGER}/daily?format=pdf").status_code == 422


def test_staff_whose_organisation_takes_no_payments_have_neither_link_nor_page(client, session, people):
    _as(client, people["company"])
    assert "收支" not in client.get("/console/").get_data(as_text=True)
    for path in ("daily", "discrepancies", "daily?format=csv"):
        resp = client.get(f"{LEDGER}/{path}")
        assert resp.status_code == 403 and "无权操作" in resp.get_data(as_text=True)


def test_differences_are_the_operators_own_and_the_districts_every_one(client, session, clock, world, people):
    same = _paid(session, clock, world, amount=2000, provider="wechatpay", at=DAY)
    differs = _paid(session, clock, world, amount=1500, provider="wechatpay", at=DAY)
    absent = _paid(session, clock, world, amount=800, provider="wechatpay", at=DAY)
    theirs = _paid(session, clock, world, amount=600, provider="wechatpay", at=DAY, org=world["other"])
    bill = "\n".join([BILL_HEADER, _bill_row(same.out_trade_no, "20.00"), _bill_row(differs.out_trade_no, "15.01"),
                      _bill_row(theirs.out_trade_no, "6.00"), _bill_row("Pnotours00000000000000001", "3.00")])
    found = reconcile.reconcile(session, bill=reconcile.parse_bill(bill), day=date(2026, 12, 4), now=clock.now())
    assert len(found) == 3
    session.commit()
    ids = {(d.kind, d.out_trade_no): d.id for d in found}
    mine = (ids[("amount_differs", differs.out_trade_no)], ids[("missing_there", absent.out_trade_no)])
    stranger = ids[("missing_here", "Pnotours00000000000000001")]

    page = _as(client, people["manager"]).get(f"{LEDGER}/discrepancies").get_data(as_text=True)
    assert all(f'id="discrepancy-{i}"' in page for i in mine) and f'id="discrepancy-{stranger}"' not in page
    row = page.split(f'id="discrepancy-{mine[0]}"')[1].split("</tr>")[0]
    assert "金额不符" in row and "15.00" in row and "15.01" in row and "对账单" in row and "2026-12-04" in row
    assert "本系统有、微信无" in page and "不自动修正" in page
    other_day = client.get(f"{LEDGER}/discrepancies?date=2026-12-05").get_data(as_text=True)
    assert "没有差异" in other_day
    assert client.get(f"{LEDGER}/discrepancies?date=12/04").status_code == 422

    assert 'id="discrepancy-' not in _as(client, people["other"]).get(f"{LEDGER}/discrepancies").get_data(
        as_text=True)  # paid, so an operator: none of its payments differs
    district = _as(client, people["district"])
    home = district.get("/console/").get_data(as_text=True)
    assert "收支 · 对账差异" in home and "收支 · 每日收入" not in home
    every = district.get(f"{LEDGER}/discrepancies").get_data(as_text=True)
    assert all(f'id="discrepancy-{i}"' in every for i in (*mine, stranger)) and "微信有、本系统无" in every
    assert district.get(f"{LEDGER}/daily").status_code == 403
