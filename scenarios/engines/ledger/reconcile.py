"""Reconciliation: the provider's trade bill of one day against the ledger. Every difference
is recorded in ``lg_discrepancies`` (source ``reconciliation``) for the operator and the district;
nothing is fixed here.

- ``missing_here``: a successful payment in the bill with no paid intent in the ledger;
- ``missing_there``: a WeChat Pay intent paid that day (Beijing time) that the bill lacks;
- ``amount_differs``: both have it, with other amounts.

Each payment's fee (手续费, a column of the bill) is recorded on its intent (``fee_fen``) as the
bill says, in chunks of ``FEE_CHUNK`` rows per statement, and each refund line's fee on its
refund (``lg_refunds.fee_fen``, matched by 商户退款单号: negative, the part of the payment's fee
WeChat Pay returns); the daily figures show the fees net of the refunded ones, as the bill's
手续费 column sums, and the net after them.

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
from scenarios.engines.ledger.models import LgDiscrepancy, LgPaymentIntent, LgRefund

BEIJING = timedelta(hours=8)
FEE_CHUNK = 5000
LISTED = 500
INTENTS = LgPaymentIntent.__table__
REFUNDS = LgRefund.__table__


@dataclass(frozen=True)
class BillLine:
    out_trade_no: str
    amount_fen: int
    transaction_id: str
    fee_fen: int = 0


@dataclass(frozen=True)
class RefundLine:
    """A refund row of the bill (交易状态 ``REFUND``): our ``out_refund_no`` (商户退款单号), the
    refunded amount and its fee as billed (negative: returned to the merchant)."""

    out_refund_no: str
    out_trade_no: str
    refund_fen: int
    fee_fen: int


@dataclass(frozen=True)
class Bill:
    payments: list[BillLine]
    refunds: list[RefundLine]


def _fen(yuan: str) -> int | None:
    try:
        value = Decimal(yuan) * 100
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() else None


def parse_bill(text: str) -> list[BillLine]:
    """The successful payments of a trade bill (refund rows and summary rows skipped)."""
    return read_bill(text).payments


def read_bill(text: str) -> Bill:
    """A trade bill's successful payments and its successful refunds (summary rows skipped).
    A file without the bill's columns, or with an unreadable amount: ``ValueError``."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header:
        return Bill([], [])
    col = {name.strip(): i for i, name in enumerate(header)}
    need = ("商户订单号", "交易状态", "订单金额", "微信订单号")
    if any(n not in col for n in need):
        raise ValueError(f"not a trade bill: the header lacks {[n for n in need if n not in col]}")
    refund_cols = all(n in col for n in ("商户退款单号", "退款金额", "退款状态"))
    payments, refunds = [], []
    for row in reader:
        cells = [c.strip().lstrip("`") for c in row]
        if len(cells) < len(header):
            continue  # the summary at the end
        fee = _fen(cells[col["手续费"]]) if "手续费" in col else 0
        if cells[col["交易状态"]] == "SUCCESS":
            fen = _fen(cells[col["订单金额"]])
            if fen is None or fee is None:
                raise ValueError(f"unreadable amount {cells[col['订单金额']]!r} or fee")
            payments.append(BillLine(cells[col["商户订单号"]], fen, cells[col["微信订单号"]], fee))
        elif cells[col["交易状态"]] == "REFUND" and refund_cols and cells[col["退款状态"]] == "SUCCESS":
            fen = _fen(cells[col["退款金额"]])
            if fen is None or fee is None:
                raise ValueError(f"unreadable refund amount {cells[col['退款金额']]!r} or fee")
            refunds.append(RefundLine(cells[col["商户退款单号"]], cells[col["商户订单号"]], fen, fee))
    return Bill(payments, refunds)


def reconcile(session: Session, *, bill: list[BillLine], day: date, now: datetime,
              refunds: list[RefundLine] = ()) -> list[LgDiscrepancy]:
    """Record (once per day, order and kind) every difference between ``bill`` and the ledger's
    WeChat Pay payments of ``day``, and the fees of the payments and of ``refunds`` (the bill's
    refund lines); returns the new discrepancies."""
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
    record_refund_fees(session, list(refunds))
    return new


def record_fees(session: Session, lines: list[BillLine]) -> int:
    """Set each paid intent's ``fee_fen`` to what the bill says; returns how many rows changed."""
    return _set_fees(session, INTENTS.c.out_trade_no, INTENTS.c.fee_fen,
                     [(line.out_trade_no, line.fee_fen) for line in lines])


def record_refund_fees(session: Session, lines: list[RefundLine]) -> int:
    """Set each refund's ``fee_fen`` to what its bill line says (a line for a refund we do not
    know changes nothing); returns how many rows changed."""
    return _set_fees(session, REFUNDS.c.out_refund_no, REFUNDS.c.fee_fen,
                     [(line.out_refund_no, line.fee_fen) for line in lines])


def _set_fees(session: Session, key: sa.Column, fee: sa.Column, pairs: list[tuple[str, int]]) -> int:
    """``fee`` := the pair's fee where ``key`` is the pair's number, unless already so.
    PostgreSQL: one ``UPDATE … FROM (VALUES …)`` per ``FEE_CHUNK`` pairs; SQLite (which cannot
    name a VALUES list's columns): one statement executed for many rows."""
    table = key.table
    if session.get_bind().dialect.name != "postgresql":
        stmt = (sa.update(table).where(key == sa.bindparam("b_no"), fee.is_distinct_from(sa.bindparam("b_fee")))
                .values({fee.name: sa.bindparam("b_fee")}))
        rows = [{"b_no": number, "b_fee": value} for number, value in pairs]
        return session.execute(stmt, rows).rowcount if rows else 0
    changed = 0
    for i in range(0, len(pairs), FEE_CHUNK):
        chunk = sa.values(sa.column("no", sa.String), sa.column("fee", sa.BigInteger), name="bill").data(
            pairs[i:i + FEE_CHUNK])
        changed += session.execute(sa.update(table).where(key == chunk.c.no, fee.is_distinct_from(chunk.c.fee))
                                   .values({fee.name: chunk.c.fee})).rowcount
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
