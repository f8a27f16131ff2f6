"""Operators' daily figures, from the ledger's own transfers: per Beijing day and scenario,
payments (count, fen), refunds (count, fen) and net, for the payee organisation, and the
provider's fees (手续费, recorded at reconciliation: a payment's on the day it was paid, a refund's
— negative, the part returned — on the day the refund was booked, so they are net of refunded fees
as WeChat Pay bills them) with the net after them; CSV (UTF-8 with BOM, for Excel) or XLSX export.
A day not yet reconciled shows fees of 0 (``fees_reconciled`` false while a WeChat Pay payment or
refund of the day lacks its fee)."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from scenarios.engines.ledger.models import LgAccount, LgEntry, LgPaymentIntent, LgRefund, LgTransfer

BEIJING = timedelta(hours=8)
MAX_DAYS = 366
HEADER = ["日期", "场景", "支付笔数", "支付金额(分)", "退款笔数", "退款金额(分)", "净收入(分)", "手续费(分)",
          "扣除手续费后净收入(分)"]


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC) - BEIJING


def check_range(date_from: date, date_to: date) -> None:
    """422 unless ``date_to`` is ``date_from`` or up to ``MAX_DAYS`` after it."""
    if not 0 <= (date_to - date_from).days <= MAX_DAYS:
        raise ApiError("validation_error", errors={"date_to": [f"须在 date_from 之后 {MAX_DAYS} 天以内"]})


def daily(session: Session, *, org_id: int, date_from: date, date_to: date) -> list[dict]:
    """One row per (day, scenario) with a movement, oldest first."""
    t, e, a = LgTransfer.__table__, LgEntry.__table__, LgAccount.__table__
    rows = session.execute(
        sa.select(t.c.kind, t.c.scenario, t.c.amount, t.c.created_at, t.c.reference)
        .join(e, e.c.transfer_id == t.c.id).join(a, a.c.id == e.c.account_id)
        .where(a.c.kind == "organisation", a.c.owner_id == org_id, a.c.unit == "CNY",
               t.c.kind.in_(("payment", "refund")),
               sa.or_(sa.and_(t.c.kind == "payment", e.c.leg == 1), sa.and_(t.c.kind == "refund", e.c.leg == 0)),
               t.c.created_at >= _utc_start(date_from), t.c.created_at < _utc_start(date_to + timedelta(days=1)))
    ).all()
    sums: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    refunds: dict[int, tuple[date, str]] = {}
    for kind, scenario, amount, created_at, reference in rows:
        key = ((created_at + BEIJING).date(), scenario or "")
        offset = 0 if kind == "payment" else 2
        sums[key][offset] += 1
        sums[key][offset + 1] += amount
        if kind == "refund" and reference.startswith("refund:"):
            refunds[int(reference.partition(":")[2])] = key
    fees = _fees(session, org_id=org_id, date_from=date_from, date_to=date_to)
    _add_refund_fees(session, fees, refunds)
    items = []
    for (day, scenario), v in sorted(sums.items()):
        fee, unreconciled = fees.get((day, scenario), (0, 0))
        items.append({"date": day, "scenario": scenario, "payments": v[0], "payments_fen": v[1], "refunds": v[2],
                      "refunds_fen": v[3], "net_fen": v[1] - v[3], "fees_fen": fee,
                      "net_after_fees_fen": v[1] - v[3] - fee, "fees_reconciled": unreconciled == 0})
    return items


def _fees(session: Session, *, org_id: int, date_from: date, date_to: date) -> dict[tuple[date, str], tuple[int, int]]:
    """(fees, WeChat Pay payments without a fee yet) per (Beijing day paid, scenario)."""
    i = LgPaymentIntent.__table__
    rows = session.execute(
        sa.select(i.c.paid_at, i.c.scenario, i.c.fee_fen, i.c.provider)
        .where(i.c.payee_org_id == org_id, i.c.paid_at >= _utc_start(date_from),
               i.c.paid_at < _utc_start(date_to + timedelta(days=1)),
               sa.or_(i.c.fee_fen.is_not(None), i.c.provider == "wechatpay"))).all()
    out: dict[tuple[date, str], tuple[int, int]] = {}
    for paid_at, scenario, fee, provider in rows:
        key = ((paid_at + BEIJING).date(), scenario or "")
        total, missing = out.get(key, (0, 0))
        out[key] = (total + (fee or 0), missing + (fee is None and provider == "wechatpay"))
    return out


def _add_refund_fees(session: Session, fees: dict[tuple[date, str], tuple[int, int]],
                     refunds: dict[int, tuple[date, str]]) -> None:
    """Add each refund's billed fee (negative) to its (day booked, scenario); a WeChat Pay refund
    without one yet counts as unreconciled."""
    r, i = LgRefund.__table__, LgPaymentIntent.__table__
    ids = list(refunds)
    for start in range(0, len(ids), 1000):
        rows = session.execute(sa.select(r.c.id, r.c.fee_fen, i.c.provider).join(i, i.c.id == r.c.intent_id)
                               .where(r.c.id.in_(ids[start:start + 1000]))).all()
        for refund_id, fee, provider in rows:
            key = refunds[refund_id]
            total, missing = fees.get(key, (0, 0))
            fees[key] = (total + (fee or 0), missing + (fee is None and provider == "wechatpay"))


def _table(items: list[dict]) -> list[list]:
    return [[i["date"].isoformat(), i["scenario"], i["payments"], i["payments_fen"], i["refunds"], i["refunds_fen"],
             i["net_fen"], i["fees_fen"], i["net_after_fees_fen"]] for i in items]


def to_csv(items: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(_table(items))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(items: list[dict]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("每日收支")
    sheet.append(HEADER)
    for row in _table(items):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
