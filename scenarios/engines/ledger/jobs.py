"""Periodic jobs of the ledger engine (run by the worker).

- ``ledger_close_expired`` (every minute): unpaid intents past their expiry close.
- ``ledger_settle_pending`` (every 2 minutes, when WeChat Pay is configured): pending WeChat Pay
  intents are queried; paid ones are booked (a lost notification), closed ones close.
- ``ledger_retry_refunds`` (every 5 minutes): WeChat Pay refunds still pending are sent again.
- ``ledger_reconcile`` (every 6 hours; a day is reconciled once its bill exists, the next run after
  10:00 Beijing time): yesterday's trade bill against the ledger, differences recorded.
- timer ``ledger.send_refund``: a refund a seller requested (``settlement.request_refund``) is
  sent to WeChat Pay once its transaction committed; a failure is left to the retry job.
- timer ``ledger.close_order``: a WeChat Pay intent closed here (expired, or closed by its seller)
  is closed at WeChat Pay once that committed, retried while WeChat Pay is down; one the payer
  paid meanwhile is booked.
- ``ledger_verify`` (hourly): cached balances against their entries; a disagreement is logged as
  an error for the operators (never corrected by the job).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from app.clock import Clock
from app.periodic import periodic
from app.timers import Timer, timer_handler
from scenarios.engines.ledger import payments, postings, reconcile, settlement, wechatpay
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund
from scenarios.engines.ledger.setup import process_runtime

log = logging.getLogger(__name__)
BEIJING = timedelta(hours=8)


@periodic("ledger_close_expired", every=timedelta(minutes=1))
def close_expired(session: Session, clock: Clock) -> int:
    return len(payments.close_expired(session, clock.now()))


@periodic("ledger_settle_pending", every=timedelta(minutes=2))
def settle_pending(session: Session, clock: Clock) -> int:
    pay = process_runtime().wechat
    return settlement.settle_pending(session, pay, clock.now())["booked"] if pay is not None else 0


@periodic("ledger_retry_refunds", every=timedelta(minutes=5))
def retry_refunds(session: Session, clock: Clock) -> int:
    pay = process_runtime().wechat
    return settlement.retry_refunds(session, pay, clock.now()) if pay is not None else 0


@timer_handler(settlement.SEND_REFUND)
def send_refund(session: Session, timer: Timer, clock: Clock) -> None:
    row = session.get(LgRefund, int(timer.subject_id))
    if row is not None and row.status == "pending":
        settlement.send_refund(session, row, process_runtime().wechat, clock.now())


@timer_handler(payments.CLOSE_AT_PROVIDER, max_attempts=16)
def close_order(session: Session, timer: Timer, clock: Clock) -> None:
    """WeChat Pay down: raises, and the worker retries with backoff (10 s doubling to 1 h, 16
    tries: about 8 hours, longer than an order stays payable)."""
    intent = session.get(LgPaymentIntent, int(timer.subject_id))
    if intent is not None and intent.status == "closed":  # paid meanwhile: nothing to close
        settlement.close_order(session, intent, process_runtime().wechat, clock.now())


@periodic("ledger_reconcile", every=timedelta(hours=6))
def reconcile_yesterday(session: Session, clock: Clock) -> int:
    pay = process_runtime().wechat
    local_now = clock.now() + BEIJING
    if pay is None or local_now.hour < 10:
        return 0
    day = (local_now - timedelta(days=1)).date()
    try:
        text = wechatpay.trade_bill(pay, day.isoformat()).decode("utf-8")
    except wechatpay.WeChatPayError:
        log.warning("ledger: the trade bill of %s could not be downloaded; next run retries", day)
        return 0
    bill = reconcile.read_bill(text)
    found = reconcile.reconcile(session, bill=bill.payments, refunds=bill.refunds, day=day, now=clock.now())
    if found:
        log.error("ledger: %d differences between the bill of %s and the ledger", len(found), day)
    return len(found)


@periodic("ledger_verify", every=timedelta(hours=1))
def verify(session: Session, clock: Clock) -> int:
    found = postings.verify(session)
    problems = len(found["accounts"]) + len(found["transfers"])
    if problems:
        log.error("ledger: cached balances or transfers disagree with the entries: %s", found)
    return problems
