"""Paying through the configured provider, WeChat Pay's notifications, and the query job that
settles what a lost notification left pending.

- ``start_wechat_payment``: the intent goes ``pending`` (committed before WeChat Pay is called),
  then JSAPI prepay; WeChat Pay unreachable or refusing: 503 ``payment_provider_unavailable``
  (``Retry-After``), the intent stays pending, the resident tries again.
- ``book_notification``: a verified, decrypted ``TRANSACTION.SUCCESS`` books the payment through
  ``payments.mark_paid`` (once however often it arrives; an unknown order or another amount is
  a discrepancy, not a payment).
- ``settle_pending``: pending WeChat Pay intents older than ``QUERY_AFTER`` are queried; SUCCESS
  books them as a notification would (an intent a notification is booking at that moment is
  skipped, never waited for: a deadlock otherwise), CLOSED/expired unpaid ones close.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from wechatpayv3 import WeChatPay

from app.errors import ApiError
from app.timers import schedule_many
from auth.models import Account
from scenarios.engines.ledger import payments, wechatpay
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund

QUERY_AFTER = timedelta(minutes=2)
REFUND_RETRY_AFTER = timedelta(minutes=5)
RETRY_AFTER_SECONDS = 5
SEND_REFUND = "ledger.send_refund"
"""The timer that sends a refund to WeChat Pay once the transaction that reserved it commits."""


def _unavailable() -> ApiError:
    return ApiError("payment_provider_unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def start_wechat_payment(session: Session, intent: LgPaymentIntent, *, account_id: int,
                         config: wechatpay.WeChatPayConfig | None, pay: WeChatPay | None, now: datetime) -> dict:
    """The ``wx.requestPayment`` parameters for the payer's WeChat account."""
    if config is None or pay is None:
        raise _unavailable()
    openid = session.scalar(sa.select(Account.openid).where(Account.id == account_id))
    if not openid:
        raise ApiError("wechat_account_required")
    payments.mark_pending(session, intent, now)
    session.commit()  # pending whatever WeChat Pay answers: the query job settles it
    try:
        return wechatpay.jsapi_prepay(pay, config, out_trade_no=intent.out_trade_no, description=intent.description,
                                      amount_fen=intent.amount_fen, openid=openid, expires_at=intent.expires_at)
    except wechatpay.WeChatPayError:
        raise _unavailable() from None


def book_notification(session: Session, resource: dict, now: datetime) -> payments.Settlement | None:
    """Book a decrypted payment notification (None when it is not a successful payment); a refund's
    notification goes to ``book_refund_notification``."""
    if "refund_status" in resource:
        book_refund_notification(session, resource, now)
        return None
    if resource.get("trade_state") != "SUCCESS":
        return None
    amount = (resource.get("amount") or {}).get("total")
    if not isinstance(amount, int) or not resource.get("out_trade_no") or not resource.get("transaction_id"):
        return None
    return payments.mark_paid(session, out_trade_no=str(resource["out_trade_no"])[:64], amount_fen=amount,
                              provider_txn_id=str(resource["transaction_id"])[:64], now=now)


def _claim(session: Session, intent_id: int) -> bool:
    """Lock the pending intent unless another transaction holds it (PostgreSQL ``SKIP LOCKED``).

    The job books many payments in one transaction and keeps the payee's account locked from the
    first; waiting for an intent a notification has locked (and whose transaction waits for that
    account) would deadlock. Skipped, it is the notification's to book."""
    stmt = sa.select(LgPaymentIntent.id).where(LgPaymentIntent.id == intent_id, LgPaymentIntent.status == "pending")
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.execute(stmt).first() is not None


def book_refund_notification(session: Session, resource: dict, now: datetime) -> str:
    """A decrypted ``REFUND.SUCCESS`` / ``REFUND.ABNORMAL`` / ``REFUND.CLOSED``: SUCCESS books the
    refund once (``payments.settle_refund``); ABNORMAL and CLOSED mark it failed for the operator
    (``payments.refund_abnormal``). An unknown ``out_refund_no``, or a refunded amount other than
    ours, is a discrepancy and books nothing. Returns what was done."""
    out_refund_no = str(resource.get("out_refund_no") or "")[:64]
    row = session.scalar(sa.select(LgRefund).where(LgRefund.out_refund_no == out_refund_no))
    amount = (resource.get("amount") or {}).get("refund")
    if row is None or amount != row.amount_fen:
        payments.discrepancy(session, kind="unknown_order" if row is None else "amount_differs",
                             out_trade_no=str(resource.get("out_trade_no") or "")[:64],
                             intent_id=row.intent_id if row is not None else None,
                             expected=row.amount_fen if row is not None else None,
                             reported=amount if isinstance(amount, int) else None, now=now,
                             details={"out_refund_no": out_refund_no,
                                      "refund_status": str(resource.get("refund_status"))[:20]})
        return "discrepancy"
    status = resource.get("refund_status")
    if status == "SUCCESS":
        return "booked" if payments.settle_refund(session, row, succeeded=True, now=now) else "already"
    if status in ("ABNORMAL", "CLOSED"):
        return "abnormal" if payments.refund_abnormal(session, row, status=status, now=now) else "already"
    return "ignored"


def settle_pending(session: Session, pay: WeChatPay, now: datetime, *, limit: int = 200) -> dict[str, int]:
    """Query WeChat Pay for pending intents older than ``QUERY_AFTER``; counts per outcome.
    WeChat Pay down: those intents stay pending for the next run."""
    pending = session.scalars(sa.select(LgPaymentIntent)
                              .where(LgPaymentIntent.provider == "wechatpay", LgPaymentIntent.status == "pending",
                                     LgPaymentIntent.updated_at <= now - QUERY_AFTER)
                              .order_by(LgPaymentIntent.id).limit(limit)).all()
    counts = {"booked": 0, "closed": 0, "unchanged": 0, "unreachable": 0, "discrepancy": 0}
    for intent in pending:
        try:
            answer = wechatpay.query(pay, intent.out_trade_no)
        except wechatpay.WeChatPayError:
            counts["unreachable"] += 1
            continue
        state = answer.get("trade_state")
        if state == "SUCCESS" and not _claim(session, intent.id):
            counts["unchanged"] += 1  # a notification is booking it right now
        elif state == "SUCCESS":
            settled = book_notification(session, answer, now)
            counts["booked" if settled and settled.outcome == "booked" else "discrepancy"] += 1
        elif state in ("CLOSED", "REVOKED", "PAYERROR") or (state == "NOTPAY" and intent.expires_at <= now):
            closed = payments.close(session, intent.id, now, at_provider=state == "NOTPAY")
            counts["closed" if closed else "unchanged"] += 1
        else:
            counts["unchanged"] += 1
    return counts


def close_order(session: Session, intent: LgPaymentIntent, pay: WeChatPay | None, now: datetime) -> str:
    """Close a closed intent's order at WeChat Pay (the ``CLOSE_AT_PROVIDER`` timer). ``closed``,
    or ``absent`` (never ordered there: the payer did not press pay); ``paid`` when the payer paid
    after all: the payment is queried and booked at once (``on_paid`` fires, as for a late
    notification). WeChat Pay down or failing: ``WeChatPayError`` (the worker retries the timer)."""
    if pay is None:
        raise wechatpay.WeChatPayError("close: WeChat Pay is not configured in this process")
    try:
        wechatpay.close(pay, intent.out_trade_no)
    except wechatpay.WeChatPayError as exc:
        if exc.code in ("ORDER_NOT_EXIST", "ORDERNOTEXIST"):
            return "absent"
        if exc.code != "ORDERPAID":
            raise
        answer = wechatpay.query(pay, intent.out_trade_no)
        if answer.get("trade_state") != "SUCCESS":
            raise
        book_notification(session, answer, now)
        return "paid"
    return "closed"


def send_refund(session: Session, refund_row: LgRefund, pay: WeChatPay | None, now: datetime) -> bool:
    """Ask WeChat Pay to refund (the amount is already reserved on the intent). WeChat Pay
    answering SUCCESS books it; PROCESSING leaves it pending for the retry job to confirm; a
    failure counts an attempt and leaves it pending to be sent again (WeChat Pay refunds an
    ``out_refund_no`` once however often it is sent). True when WeChat Pay accepted it."""
    intent = session.get(LgPaymentIntent, refund_row.intent_id)
    if pay is None:
        payments.settle_refund(session, refund_row, succeeded=False, now=now)
        return False
    try:
        answer = wechatpay.refund(pay, out_trade_no=intent.out_trade_no, out_refund_no=refund_row.out_refund_no,
                                  amount_fen=refund_row.amount_fen, total_fen=intent.amount_fen,
                                  reason=refund_row.reason)
    except wechatpay.WeChatPayError:
        payments.settle_refund(session, refund_row, succeeded=False, now=now)
        return False
    if answer.get("status") == "SUCCESS":
        payments.settle_refund(session, refund_row, succeeded=True, now=now)
    else:
        session.execute(sa.update(LgRefund).where(LgRefund.id == refund_row.id)
                        .values(attempts=LgRefund.attempts + 1, updated_at=now))
    return True


def retry_refunds(session: Session, pay: WeChatPay | None, now: datetime, *, limit: int = 100) -> int:
    """Send again the WeChat Pay refunds still pending ``REFUND_RETRY_AFTER`` after their last
    attempt (a failed call, or one WeChat Pay is still processing); returns how many it accepted."""
    rows = session.scalars(sa.select(LgRefund).join(LgPaymentIntent, LgPaymentIntent.id == LgRefund.intent_id)
                           .where(LgPaymentIntent.provider == "wechatpay", LgRefund.status == "pending",
                                  LgRefund.updated_at <= now - REFUND_RETRY_AFTER)
                           .order_by(LgRefund.id).limit(limit)).all()
    return sum(send_refund(session, row, pay, now) for row in rows)


def request_refund(session: Session, intent: LgPaymentIntent, *, amount_fen: object, now: datetime,
                   reason: str | None = None) -> LgRefund:
    """A refund a seller decides on, in its own transaction: the amount is reserved at once
    (``payments.refund``: 409 ``refund_exceeds_paid`` / ``payment_not_refundable``); ``record``
    settles it at once (``on_refunded`` fires), WeChat Pay gets it from the ``SEND_REFUND`` timer
    after the commit (and from the retry job while it fails)."""
    row = payments.refund(session, intent, amount_fen=amount_fen, reason=reason, now=now)
    if intent.provider == "record":
        payments.settle_refund(session, row, succeeded=True, now=now)
    else:
        schedule_many(session, subject_type="lg_refund", subject_id=row.id, timers=[(SEND_REFUND, 0, now)])
    return row
