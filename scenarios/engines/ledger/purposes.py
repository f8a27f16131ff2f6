"""Charging through the ledger: what a scenario (or another engine) sells, and how it learns
that it was paid, closed unpaid or refunded.

Usage, in a module the scenario names in ``jobs=`` (loaded at start-up by web and worker)::

    from scenarios.engines.ledger import purposes

    def _paid(session, intent, now): ...        # e.g. confirm the session / booking
    def _closed(session, intent, now): ...      # unpaid and expired: release what was held
    def _refunded(session, intent, refund, now): ...  # refund.amount_fen went back to the payer

    PARKING_FEE = purposes.register(purposes.PaymentPurpose(
        kind="pk_session", on_paid=_paid, on_closed=_closed, on_refunded=_refunded))

    # where it sells (the caller's transaction; the payer then pays through
    # POST /api/v1/payments/<intent.id>/pay):
    intent = purposes.charge(session, PARKING_FEE, subject_id=row.id, scenario="parking",
                             payer_person_id=..., payee_org_id=..., amount_fen=500,
                             description="停车费", now=now, expires_in=timedelta(minutes=15))
    row.payment_id = intent.id    # or find it again with purposes.intent_for(session, "pk_session", row.id)

    # the seller no longer sells it (unpaid): on_closed fires and, after the commit, its order is
    # closed at WeChat Pay (a timer); a payment WeChat Pay still reports later is booked and
    # on_paid fires (refund it then)
    purposes.close(session, intent, now=now)
    # the seller decides on a refund (e.g. a cancellation): all that is left, or amount_fen=
    purposes.refund(session, intent, now=now, reason="取消预约")

The intent's ``subject`` is ``"<kind>:<subject_id>"`` (``intent.subject_type`` /
``intent.subject_id``). The hooks are looked up by that kind and called **inside the
transaction that books the change**, by whichever path books it — the ``record`` provider's pay
route, WeChat Pay's notification, the query job (``settlement.settle_pending``), the expiry job
(``payments.close_expired``), a refund's settlement — and only by the call that won the
compare-and-set: a notification arriving twice, or racing the query job, fires ``on_paid`` once.
A hook that raises rolls the booking back with it (WeChat Pay then notifies again).

- ``on_paid(session, intent, now)``: once, when the payment is booked. It may come *after*
  ``on_closed``: WeChat Pay can report a payment after the intent expired (the money moved, so it
  is booked); the scenario decides then (e.g. refund in full with ``payments.refund`` when what
  was held is gone).
- ``on_closed(session, intent, now)``: once, when an unpaid intent closes (expired, or WeChat Pay
  reports it closed).
- ``on_refunded(session, intent, refund, now)``: once per refund, when the provider confirms it
  (``record``: at once; WeChat Pay: its answer, the refund notification or the retry job).
  ``intent.status`` tells whether it is now ``refunded`` or ``partially_refunded``.

An intent of a kind nobody registered (or without a subject) is paid and refunded all the same;
no hook runs. A hook reaching the outside world does it through the outbox (app/notify).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scenarios.engines.ledger import payments, settlement
from scenarios.engines.ledger.hooks import PURPOSES, PaymentPurpose, register
from scenarios.engines.ledger.models import LgPaymentIntent
from scenarios.engines.ledger.setup import current_runtime

__all__ = ["PaymentPurpose", "charge", "close", "intent_for", "refund", "register"]


def charge(session: Session, purpose: PaymentPurpose, *, subject_id: int | str, scenario: str,
           payer_person_id: int, payee_org_id: int, amount_fen: object, description: str, now: datetime,
           expires_in: timedelta = timedelta(minutes=15), provider: str | None = None) -> LgPaymentIntent:
    """A new intent for ``purpose``'s ``subject_id``, in the caller's transaction. ``provider``:
    the configured one (``LEDGER_PROVIDER``) unless named. 422 ``amount_invalid`` on a bad amount."""
    if purpose.kind not in PURPOSES:
        raise ValueError(f"payment purpose {purpose.kind!r} is not registered")
    if provider is None:
        provider = current_runtime().provider
    return payments.create(session, scenario=scenario, payer_person_id=payer_person_id, payee_org_id=payee_org_id,
                           amount_fen=amount_fen, description=description, now=now, expires_in=expires_in,
                           provider=provider, subject=purpose.subject(subject_id))


def intent_for(session: Session, kind: str, subject_id: int | str) -> LgPaymentIntent | None:
    """The newest intent sold for ``kind:subject_id`` (None when there is none)."""
    return session.scalars(sa.select(LgPaymentIntent).where(LgPaymentIntent.subject == f"{kind}:{subject_id}")
                           .order_by(LgPaymentIntent.id.desc()).limit(1)).first()


def refund(session: Session, intent: LgPaymentIntent, *, now: datetime, amount_fen: object | None = None,
           reason: str | None = None) -> int:
    """Refund ``amount_fen`` (all that is left when None) of a paid intent, in the caller's
    transaction; returns the amount reserved (0 when nothing was paid or nothing is left).
    ``on_refunded`` fires when the provider confirms it (``record``: at once)."""
    session.refresh(intent)
    left = intent.amount_fen - intent.refunded_fen
    if intent.status not in ("paid", "partially_refunded") or left <= 0:
        return 0
    amount = left if amount_fen is None else amount_fen
    row = settlement.request_refund(session, intent, amount_fen=amount, now=now, reason=reason)
    return row.amount_fen


def close(session: Session, intent: LgPaymentIntent, *, now: datetime, at_provider: bool = True) -> bool:
    """Close an unpaid intent the seller no longer sells (``on_closed`` fires; a WeChat Pay order is
    closed there by the ``ledger.close_order`` timer after the commit); False when it was paid or
    closed already. ``at_provider=False``: there is no order at WeChat Pay to close (a parking
    deduction WeChat Pay refused)."""
    return payments.close(session, intent.id, now, at_provider=at_provider)
