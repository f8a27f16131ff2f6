"""Reconciliation: the provider's trade bill of one day against the ledger. Every difference
is recorded in ``lg_discrepancies`` (source ``reconciliation``) for the operator and the district;
nothing is fixed here.

- ``missing_here``: a successful payment in the bill with no paid intent in the ledger;
- ``missing_there``: a WeChat Pay intent paid that day (Beijing time) that the bill lacks;
- ``amount_differs``: both have it, with other amounts.

Each payment's fee (手续费, a column of the bill) is recorded on its intent (``fee_fen``) as the
bill says, in chunks of ``FEE_CHUNK`` rows per statement; the daily figures show fees and the
net after them.

The bill is WeChat Pay's trade bill text: a header row, then one row per transaction with every
field prefixed by a backtick, then summary rows; amounts in yuan with two decimals.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.orm import Session

from auth.principal import Principal
from scenarios.engines.ledger.models import LgDiscrepancy, LgPaymentIntent

BEIJING = timedelta(hours=8)
FEE_CHUNK = 5000
LISTED = 500
INTENTS = LgPaymentIntent.__table__


@dataclass(frozen=True)
class BillLine:
    out_trade_no: str
    amount_fen: int
    transaction_id: str
    fee_fen: int = 0


def _fen(yuan: str) -> int | None:
    try:
        value = Decimal(yuan) * 100
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() else None


def parse_bill(text: str) -> list[BillLine]:
    """The successful payments of a trade bill (refund rows and summary rows skipped)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header:
        return []
    col = {name.strip(): i for i, name in enumerate(header)}
    need = ("商户订单号", "交易状态", "订单金额", "微信订单号")
    if any(n not in col for n in need):
        raise ValueError(f"not a trade bill: the header lacks {[n for n in need if n not in col]}")
    lines = []
    for row in reader:
        cells = [c.strip().lstrip("`") for c in row]
        if len(cells) < len(header):
            continue  # the summary at the end
        if cells[col["交易状态"]] != "SUCCESS":
            continue
        fen = _fen(cells[col["订单金额"]])
        fee = _fen(cells[col["手续费"]]) if "手续费" in col else 0
        if fen is None or fee is None:
            raise ValueError(f"unreadable amount {cells[col['订单金额']]!r} or fee")
        lines.append(BillLine(cells[col["商户订单号"]], fen, cells[col["微信订单号"]], fee))
    return lines


def reconcile(session: Session, *, bill: list[BillLine], day: date, now: datetime) -> list[LgDiscrepancy]:
    """Record (once per day, order and kind) every difference between ``bill`` and the ledger's
    WeChat Pay payments of ``day``; returns the new discrepancies."""
    start = datetime.combine(day, time(0), tzinfo=UTC) - BEIJING
    paid = dict(session.execute(
        sa.select(LgPaymentIntent.out_trade_no, LgPaymentIntent.amount_fen)
        .where(LgPaymentIntent.provider == "wechatpay", LgPaymentIntent.paid_at >= start,
               LgPaymentIntent.paid_at < start + timedelta(days=1))).all())
    in_bill = {line.out_trade_no: line for line in bill}
    elsewhere = dict(session.execute(
        sa.select(LgPaymentIntent.out_trade_no, LgPaymentIntent.amount_fen)
        .where(LgPaymentIntent.out_trade_no.in_([n for n in in_bill if n not in paid]),
               LgPaymentIntent.paid_at.is_not(None))).all()) if in_bill else {}
    found: list[tuple[str, str, int | None, int | None]] = []
    for number, line in in_bill.items():
        expected = paid.get(number, elsewhere.get(number))
        if expected is None:
            found.append(("missing_here", number, None, line.amount_fen))
        elif expected != line.amount_fen:
            found.append(("amount_differs", number, expected, line.amount_fen))
    found += [("missing_there", number, amount, None) for number, amount in paid.items() if number not in in_bill]
    known = set(session.execute(sa.select(LgDiscrepancy.kind, LgDiscrepancy.out_trade_no)
                                .where(LgDiscrepancy.source == "reconciliation", LgDiscrepancy.bill_date == day)).all())
    ids = dict(session.execute(sa.select(LgPaymentIntent.out_trade_no, LgPaymentIntent.id)
                               .where(LgPaymentIntent.out_trade_no.in_([f[1] for f in found]))).all()) if found else {}
    new = [LgDiscrepancy(kind=kind, source="reconciliation", out_trade_no=number, intent_id=ids.get(number),
                         expected_fen=expected, reported_fen=reported, bill_date=day, details={}, created_at=now)
           for kind, number, expected, reported in found if (kind, number) not in known]
    session.add_all(new)
    session.flush()
    record_fees(session, [line for number, line in in_bill.items() if number in paid or number in elsewhere])
    return new


def record_fees(session: Session, lines: list[BillLine]) -> int:
    """Set each paid intent's ``fee_fen`` to what the bill says; returns how many rows changed.
    PostgreSQL: one ``UPDATE … FROM (VALUES …)`` per ``FEE_CHUNK`` lines; SQLite (which cannot
    name a VALUES list's columns): one statement executed for many rows."""
    changed = 0
    if session.get_bind().dialect.name != "postgresql":
        stmt = (sa.update(INTENTS).where(INTENTS.c.out_trade_no == sa.bindparam("b_no"),
                                         INTENTS.c.fee_fen.is_distinct_from(sa.bindparam("b_fee")))
                .values(fee_fen=sa.bindparam("b_fee")))
        rows = [{"b_no": line.out_trade_no, "b_fee": line.fee_fen} for line in lines]
        return session.execute(stmt, rows).rowcount if rows else 0
    for i in range(0, len(lines), FEE_CHUNK):
        chunk = sa.values(sa.column("no", sa.String), sa.column("fee", sa.BigInteger), name="bill").data(
            [(line.out_trade_no, line.fee_fen) for line in lines[i:i + FEE_CHUNK]])
        changed += session.execute(
            sa.update(INTENTS).where(INTENTS.c.out_trade_no == chunk.c.no,
                                     INTENTS.c.fee_fen.is_distinct_from(chunk.c.fee))
            .values(fee_fen=chunk.c.fee)).rowcount
    return changed


def listed(session: Session, *, principal: Principal, day: date | None = None) -> list[LgDiscrepancy]:
    """The differences ``principal`` may read, newest first (at most ``LISTED``): the district's
    staff every one, an organisation's staff those of its own payments; ``day``: the bill's day."""
    stmt = sa.select(LgDiscrepancy).order_by(LgDiscrepancy.id.desc()).limit(LISTED)
    if day is not None:
        stmt = stmt.where(LgDiscrepancy.bill_date == day)
    if principal.org_type != "district":
        stmt = stmt.join(LgPaymentIntent, LgPaymentIntent.id == LgDiscrepancy.intent_id).where(
            LgPaymentIntent.payee_org_id == principal.org_id)
    return list(session.scalars(stmt))
