"""The ledger's reconciliation of a 100,000-line trade bill, in process: ``python -m bench.ledger_reconcile``.

Creates its own PostgreSQL database (``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL``, else
postgresql://postgres@127.0.0.1:5432/postgres names the server), migrates it, loads 100,000
WeChat Pay payments of one day (straight into ``lg_payment_intents``) and a trade bill of them in
WeChat Pay's format where 100 amounts differ, 100 lines are ours unknown and 100 payments are
missing; then times what the daily job does: ``parse_bill`` + ``reconcile`` (differences and
each payment's fee) in one transaction. Drops the database at the end. Target: < 30 s.
"""
from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from app import create_app
from app.clock import SystemClock
from app.config import load_settings
from app.db import Database
from auth.models import Person
from auth.organisations import Organisation
from bench.worker_pass import migrate, scratch_database
from scenarios.engines.ledger import reconcile
from scenarios.engines.ledger.models import LgDiscrepancy, LgPaymentIntent

DAY = date(2026, 12, 3)
HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
          "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
          "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
ODD = 100  # of each kind of difference


def _bill_line(number: str, fen: int, k: int) -> str:
    yuan = f"{fen / 100:.2f}"
    cells = ["2026-12-03 10:00:00", "wxapp", "1900000109", "0", "", f"42{k:026d}", number, "openid", "JSAPI",
             "SUCCESS", "OTHERS", "CNY", yuan, "0.00", "0", "0", "0.00", "0.00", "", "", "场馆", "",
             f"{fen * 6 // 1000 / 100:.2f}", "0.60%", yuan, "0.00", ""]
    return ",".join("`" + c for c in cells)


def load(db: Database, lines: int) -> str:
    """``lines`` paid intents of DAY and the bill text WeChat Pay would send for them."""
    paid_at = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    with db.transaction() as s:
        person = Person(name="对账", real_name_level="basic")
        org = Organisation(code="bench-reconcile", name="对账场馆", type="venue_operator", active=True, attributes={})
        s.add_all([person, org])
        s.flush()
        person, org = person.id, org.id
        rows = [{"scenario": "bench", "subject": None, "payer_person_id": person, "payee_org_id": org,
                 "amount_fen": 1000 + k % 5000, "currency": "CNY", "description": "对账压测", "status": "paid",
                 "provider": "wechatpay", "out_trade_no": f"B{k:023d}", "provider_txn_id": f"42{k:026d}",
                 "refunded_fen": 0, "expires_at": paid_at + timedelta(minutes=15), "created_at": paid_at,
                 "updated_at": paid_at, "paid_at": paid_at} for k in range(lines)]
        for i in range(0, lines, 10_000):
            s.execute(sa.insert(LgPaymentIntent.__table__), rows[i:i + 10_000])
    bill = [HEADER]
    for k, row in enumerate(rows[:lines - ODD]):  # the last ODD are missing there
        fen = row["amount_fen"] + (1 if k < ODD else 0)  # the first ODD differ
        bill.append(_bill_line(row["out_trade_no"], fen, k))
    bill += [_bill_line(f"X{k:023d}", 500, lines + k) for k in range(ODD)]  # unknown here
    bill += ["总交易单数,应结订单总金额", f"`{len(bill) - 1},`0.00"]
    return "\n".join(bill) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args(argv)
    with scratch_database(False) as url:
        migrate(url)
        app = create_app(load_settings({**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}))
        db: Database = app.extensions["db"]
        try:
            with app.app_context():  # persons' fields are encrypted with the app's keys
                text = load(db, args.lines)
            started = time.perf_counter()
            with db.transaction() as s:
                bill = reconcile.parse_bill(text)
                parsed = time.perf_counter()
                found = reconcile.reconcile(s, bill=bill, day=DAY, now=SystemClock().now())
            took = time.perf_counter() - started
            with db.transaction(write=False) as s:
                kinds = dict(s.execute(sa.select(LgDiscrepancy.kind, sa.func.count())
                                       .group_by(LgDiscrepancy.kind)).all())
                fees = s.scalar(sa.select(sa.func.count()).select_from(LgPaymentIntent)
                                .where(LgPaymentIntent.fee_fen.is_not(None)))
        finally:
            db.dispose()
    print(f"reconciliation of {len(bill):,} bill lines against {args.lines:,} payments (PostgreSQL, in process): "
          f"{took:.2f} s (parse {parsed - started:.2f} s); differences {len(found)} {kinds}; fees recorded {fees:,}; "
          f"target < 30 s: {'met' if took < 30 else 'NOT met'}")
    expected = {"amount_differs": ODD, "missing_here": ODD, "missing_there": ODD}
    return 0 if took < 30 and kinds == expected and fees == args.lines - ODD else 1


if __name__ == "__main__":
    raise SystemExit(main())
