"""Payment intents and refunds: every state change a compare-and-set, every amount checked by
the database.

- ``create``: an intent of ``amount_fen`` (1 … 2^63-1, CNY only) from a payer to a payee
  organisation, open until ``expires_at``.
- ``mark_paid``: what the provider reports (the ``record`` provider at once, WeChat Pay by its
  notification or the query job). One conditional ``UPDATE … WHERE status IN ('created',
  'pending')``: of two reports of the same payment only one books it, the other sees it paid
  and books nothing. A report for an unknown order, or for an amount other than the intent's,
  is recorded as a discrepancy and books nothing.
- ``refund``: takes its amount with one ``UPDATE … SET refunded_fen = refunded_fen + n WHERE
  refunded_fen + n <= amount_fen``: concurrent refunds never exceed what was paid (the check
  constraint ``refunds_within_paid`` is the database's last word).
- ``close_expired``: intents past ``expires_at`` and still unpaid are closed; ``close``: one the
  seller no longer sells. A WeChat Pay intent's order is then closed at WeChat Pay too, by the
  ``CLOSE_AT_PROVIDER`` timer after the commit (a payment made anyway is still booked).

Each change that wins its compare-and-set calls the seller's hook (purposes.py) in the same
transaction: ``on_paid``, ``on_closed``, ``on_refunded``.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import fast_paths_apply
from app.errors import ApiError
from app.timers import schedule_many
from scenarios.engines.ledger import hooks, notices, postings
from scenarios.engines.ledger.models import (
    PAYABLE_STATES,
    REFUNDABLE_STATES,
    SUBJECT,
    LgDiscrepancy,
    LgPaymentIntent,
    LgRefund,
)

INTENTS = LgPaymentIntent.__table__
REFUNDS = LgRefund.__table__


def _trade_no(prefix: str) -> str:
    """An order number WeChat Pay accepts (6–32 letters and digits), unguessable."""
    return prefix + secrets.token_hex(12)


def create(session: Session, *, scenario: str, payer_person_id: int, payee_org_id: int, amount_fen: object,
           description: str, now: datetime, expires_in: timedelta = timedelta(minutes=15),
           currency: str = "CNY", provider: str = "record", subject: str | None = None) -> LgPaymentIntent:
    """A new intent in ``created``; 422 ``amount_invalid`` / ``currency_unsupported`` on bad input."""
    amount = postings.check_amount(amount_fen)
    if currency != "CNY":
        raise ApiError("currency_unsupported", errors={"currency": ["仅支持 CNY"]})
    intent = LgPaymentIntent(scenario=scenario, subject=subject, payer_person_id=payer_person_id,
                             payee_org_id=payee_org_id, amount_fen=amount, currency="CNY",
                             description=description, status="created", provider=provider,
                             out_trade_no=_trade_no("P"), refunded_fen=0, expires_at=now + expires_in,
                             created_at=now, updated_at=now)
    session.add(intent)
    session.flush()
    return intent


def mark_pending(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    """``created`` → ``pending`` (handed to the provider); 409 when it is no longer payable."""
    if intent.expires_at <= now:
        raise ApiError("payment_expired")
    moved = session.execute(sa.update(INTENTS).where(INTENTS.c.id == intent.id,
                                                     INTENTS.c.status.in_(PAYABLE_STATES))
                            .values(status="pending", updated_at=now))
    if moved.rowcount != 1:
        raise ApiError("payment_not_payable")
    session.refresh(intent)


@dataclass(frozen=True)
class Settlement:
    """What ``mark_paid`` did: ``booked`` (this call booked the payment), ``already`` (it was
    booked before: nothing written), or ``discrepancy`` (recorded, nothing booked)."""

    outcome: str
    intent_id: int | None


def discrepancy(session: Session, *, kind: str, out_trade_no: str, intent_id: int | None,
                 expected: int | None, reported: int | None, now: datetime, details: dict) -> None:
    session.add(LgDiscrepancy(kind=kind, source="notification", out_trade_no=out_trade_no, intent_id=intent_id,
                              expected_fen=expected, reported_fen=reported, details=details, created_at=now))
    session.flush()


def mark_paid(session: Session, *, out_trade_no: str, amount_fen: int, provider_txn_id: str,
              now: datetime, paid_at: datetime | None = None) -> Settlement:
    """Book a payment the provider reports. Booked once however often it is reported.

    The compare-and-set comes first (one statement on the usual path, a payment of the
    intent's amount); only when it changes nothing is the intent read to tell why. On PostgreSQL
    the whole booking is one statement (``fastpath.book_payment``) when the compare-and-set wins."""
    if fast_paths_apply(session):
        from scenarios.engines.ledger import fastpath

        fast = fastpath.book_payment(session, out_trade_no=out_trade_no, amount_fen=amount_fen,
                                     provider_txn_id=provider_txn_id, now=now, paid_at=paid_at or now)
        if fast is not None:
            hooks.fire_paid(session, fast[1], fast[0], now)
            return Settlement("booked", fast[0])
    # A payment the provider took is booked even if the intent expired meanwhile (the money moved).
    booked = session.execute(sa.update(INTENTS)
                             .where(INTENTS.c.out_trade_no == out_trade_no, INTENTS.c.amount_fen == amount_fen,
                                    INTENTS.c.status.in_((*PAYABLE_STATES, "closed")))
                             .values(status="paid", provider_txn_id=provider_txn_id, paid_at=paid_at or now,
                                     closed_at=None, updated_at=now)
                             .returning(INTENTS.c.id, INTENTS.c.payer_person_id, INTENTS.c.payee_org_id,
                                        INTENTS.c.amount_fen, INTENTS.c.scenario, INTENTS.c.subject)).first()
    if booked is None:
        intent = session.execute(sa.select(INTENTS.c.id, INTENTS.c.amount_fen)
                                 .where(INTENTS.c.out_trade_no == out_trade_no)).first()
        if intent is None:
            discrepancy(session, kind="unknown_order", out_trade_no=out_trade_no, intent_id=None, expected=None,
                        reported=amount_fen, now=now, details={"transaction_id": provider_txn_id})
            return Settlement("discrepancy", None)
        if amount_fen != intent.amount_fen:
            discrepancy(session, kind="amount_differs", out_trade_no=out_trade_no, intent_id=intent.id,
                        expected=intent.amount_fen, reported=amount_fen, now=now,
                        details={"transaction_id": provider_txn_id})
            return Settlement("discrepancy", intent.id)
        return Settlement("already", intent.id)
    payer = postings.account(session, "payer", booked.payer_person_id, now=now)
    payee = postings.account(session, "organisation", booked.payee_org_id, now=now)
    postings.post(session, kind="payment", debit=payer, credit=payee, amount=booked.amount_fen,
                  reference=f"intent:{booked.id}", scenario=booked.scenario, now=now)
    hooks.fire_paid(session, booked.subject, booked.id, now)
    return Settlement("booked", booked.id)


def pay_by_record(session: Session, intent: LgPaymentIntent, now: datetime) -> LgPaymentIntent:
    """The ``record`` provider: the payment is taken as made. Paying twice: 409
    ``payment_not_payable``; after expiry: 409 ``payment_expired``."""
    if intent.status not in PAYABLE_STATES:
        raise ApiError("payment_not_payable")
    if intent.expires_at <= now:
        raise ApiError("payment_expired")
    settled = mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=intent.amount_fen,
                        provider_txn_id=f"record-{intent.out_trade_no}", now=now)
    if settled.outcome != "booked":
        raise ApiError("payment_not_payable")
    session.refresh(intent)
    return intent


def refund(session: Session, intent: LgPaymentIntent, *, amount_fen: object, now: datetime,
           reason: str | None = None) -> LgRefund:
    """Take ``amount_fen`` of what is left to refund and record the refund (``pending``: the
    provider settles it; ``settle_refund`` books it). 409 ``refund_exceeds_paid`` when less is left
    (nothing taken; a fully refunded payment has 0 left), ``payment_not_refundable`` when the
    intent was never paid."""
    amount = postings.check_amount(amount_fen)
    if intent.status not in (*REFUNDABLE_STATES, "refunded"):
        raise ApiError("payment_not_refundable")
    left_after = INTENTS.c.amount_fen - INTENTS.c.refunded_fen - amount
    moved = session.execute(
        sa.update(INTENTS)
        .where(INTENTS.c.id == intent.id, INTENTS.c.status.in_(REFUNDABLE_STATES), left_after >= 0)
        .values(refunded_fen=INTENTS.c.refunded_fen + amount,
                status=sa.case((left_after == 0, "refunded"), else_="partially_refunded"), updated_at=now))
    if moved.rowcount != 1:
        session.refresh(intent)
        if intent.status not in (*REFUNDABLE_STATES, "refunded"):
            raise ApiError("payment_not_refundable")
        raise ApiError("refund_exceeds_paid", errors={"amount_fen": [
            f"最多可退 {intent.amount_fen - intent.refunded_fen} 分"]},
            detail={"refundable_fen": intent.amount_fen - intent.refunded_fen})
    row = LgRefund(intent_id=intent.id, out_refund_no=_trade_no("R"), amount_fen=amount, reason=reason,
                   status="pending", attempts=0, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    session.refresh(intent)
    return row


def settle_refund(session: Session, refund_row: LgRefund, *, succeeded: bool, now: datetime) -> bool:
    """The provider's answer on a refund: ``succeeded`` books it (payee → payer) once and tells the
    payer (``payment_refunded``), also after it was reported abnormal (the merchant settled it by
    hand); a failure leaves it ``pending`` for a retry (the amount stays taken). True when this
    call booked it."""
    if not succeeded:
        session.execute(sa.update(REFUNDS).where(REFUNDS.c.id == refund_row.id)
                        .values(attempts=REFUNDS.c.attempts + 1, updated_at=now))
        return False
    moved = session.execute(sa.update(REFUNDS).where(REFUNDS.c.id == refund_row.id,
                                                     REFUNDS.c.status.in_(("pending", "failed")))
                            .values(status="succeeded", attempts=REFUNDS.c.attempts + 1, updated_at=now))
    if moved.rowcount != 1:
        return False
    intent = session.get(LgPaymentIntent, refund_row.intent_id)
    payer = postings.account(session, "payer", intent.payer_person_id, now=now)
    payee = postings.account(session, "organisation", intent.payee_org_id, now=now)
    postings.post(session, kind="refund", debit=payee, credit=payer, amount=refund_row.amount_fen,
                  reference=f"refund:{refund_row.id}", scenario=intent.scenario, now=now)
    session.refresh(refund_row)
    notices.tell_refund(session, intent, refund_row, template="payment_refunded", now=now)
    hooks.fire_refunded(session, intent, refund_row, now)
    return True


def refund_abnormal(session: Session, refund_row: LgRefund, *, status: str, now: datetime,
                    details: dict | None = None) -> bool:
    """WeChat Pay could not return the money (``ABNORMAL``: the payer's card is gone; ``CLOSED``):
    the refund is ``failed``, its amount stays reserved (the merchant settles it by hand on WeChat
    Pay's platform, whose later ``SUCCESS`` still books it), a ``refund_abnormal`` discrepancy is
    listed for the operator and the payer is told. True when this call recorded it."""
    moved = session.execute(sa.update(REFUNDS).where(REFUNDS.c.id == refund_row.id, REFUNDS.c.status == "pending")
                            .values(status="failed", updated_at=now))
    if moved.rowcount != 1:
        return False
    intent = session.get(LgPaymentIntent, refund_row.intent_id)
    discrepancy(session, kind="refund_abnormal", out_trade_no=intent.out_trade_no, intent_id=intent.id,
                expected=refund_row.amount_fen, reported=None, now=now,
                details={"out_refund_no": refund_row.out_refund_no, "refund_status": status, **(details or {})})
    notices.tell_refund(session, intent, refund_row, template="payment_refund_abnormal", now=now)
    return True


CLOSE_AT_PROVIDER = "ledger.close_order"
"""The timer that closes a WeChat Pay intent's order at WeChat Pay once its closing here committed
(``jobs.close_order``; retried with the worker's backoff while WeChat Pay is down)."""


def _close_at_provider(session: Session, closed: list[tuple[int, str]], now: datetime) -> None:
    """Arm ``CLOSE_AT_PROVIDER`` for the closed intents (id, provider) that went through WeChat
    Pay, in the closing transaction: WeChat Pay hears of it only if the closing commits."""
    for intent_id, provider in closed:
        if provider == "wechatpay":
            schedule_many(session, subject_type=SUBJECT, subject_id=intent_id, timers=[(CLOSE_AT_PROVIDER, 0, now)])


def close_expired(session: Session, now: datetime, *, limit: int = 500) -> list[int]:
    """Close up to ``limit`` unpaid intents past their expiry (and their orders at WeChat Pay,
    by a timer); returns their ids."""
    ids = session.execute(sa.select(INTENTS.c.id).where(INTENTS.c.status.in_(PAYABLE_STATES),
                                                        INTENTS.c.expires_at <= now)
                          .order_by(INTENTS.c.id).limit(limit)).scalars().all()
    if not ids:
        return []
    closed = session.execute(sa.update(INTENTS)
                             .where(INTENTS.c.id.in_(ids), INTENTS.c.status.in_(PAYABLE_STATES))
                             .values(status="closed", closed_at=now, updated_at=now)
                             .returning(INTENTS.c.id, INTENTS.c.subject, INTENTS.c.provider)).all()
    _close_at_provider(session, [(intent_id, provider) for intent_id, _, provider in closed], now)
    for intent_id, subject, _ in closed:
        hooks.fire_closed(session, subject, intent_id, now)
    return [intent_id for intent_id, _, _ in closed]


def close(session: Session, intent_id: int, now: datetime, *, at_provider: bool = True) -> bool:
    """Close one unpaid intent (the seller no longer sells it, or the provider reports it closed);
    True when this call closed it (``on_closed`` fired). ``at_provider``: also close its order at
    WeChat Pay (by a timer after the commit) — not when WeChat Pay itself reported it closed."""
    closed = session.execute(sa.update(INTENTS)
                             .where(INTENTS.c.id == intent_id, INTENTS.c.status.in_(PAYABLE_STATES))
                             .values(status="closed", closed_at=now, updated_at=now)
                             .returning(INTENTS.c.subject, INTENTS.c.provider)).first()
    if closed is None:
        return False
    if at_provider:
        _close_at_provider(session, [(intent_id, closed.provider)], now)
    hooks.fire_closed(session, closed.subject, intent_id, now)
    return True
