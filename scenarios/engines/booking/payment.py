"""Priced bookings, charged through the ledger engine (``scenarios.engines.ledger.purposes``).

A resource with a ``price_fen`` sells its slots: booking it is a hold (whatever the scenario's
``needs_confirm``) with a payment intent of ``price_fen`` × units, open ``payment_minutes``,
payable by the booker through ``POST /api/v1/payments/<payment_id>/pay``; the hold lasts
``PAYMENT_GRACE`` longer, so a payment WeChat Pay notifies late still finds it. The ledger tells
the booking engine what happened through the ``bk_booking`` purpose's hooks (paid.py), in the
transaction that books it:

- paid → the hold is confirmed (pass, timers, notice); paid after the hold was gone → refunded
  in full at once (the resident is told).
- closed unpaid → the hold is released if its time is up (else its own timer releases it).

The payer is told of each refund by the ledger itself (``payment_refunded``).

A priced booking that ends (``service._end``) takes its payment with it: unpaid, the intent is
closed; paid and cancelled (by the booker within the notice rule, a closed slot, an erased
account), all that is left is refunded. A no-show keeps what was paid.

The pair booking → ledger is named in ``.importlinter`` (this module only): the booking engine
needs the ledger's intents; the ledger knows no seller.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.errors import ApiError
from app.fields import CST
from app.scenario import lazy
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import SUBJECT, BkBooking, BkResource, BkSlot
from scenarios.engines.ledger import purposes
from scenarios.engines.ledger.models import LgPaymentIntent

PAYMENT_GRACE = timedelta(minutes=3)
NO_REFUND_REASONS = ("no_show",)

PURPOSE = purposes.register(purposes.PaymentPurpose(
    kind=SUBJECT,
    on_paid=lazy("scenarios.engines.booking.paid:on_paid"),
    on_closed=lazy("scenarios.engines.booking.paid:on_closed"),
))


def priced(resource: BkResource) -> bool:
    return resource.price_fen is not None


def hold_for(config: BookingConfig, resource: BkResource) -> timedelta:
    """How long a new booking of ``resource`` is held before it must be confirmed or paid."""
    return timedelta(minutes=config.payment_minutes) + PAYMENT_GRACE if priced(resource) else config.hold


def charge(session: Session, config: BookingConfig, booking: BkBooking, slot: BkSlot, resource: BkResource,
           now: datetime, *, until: datetime | None = None) -> LgPaymentIntent:
    """The payment intent of a priced hold (the booker pays the resource's owner), open
    ``payment_minutes`` or ``until`` (a waitlist offer's hold)."""
    start = slot.starts_at.astimezone(CST)
    intent = purposes.charge(
        session, PURPOSE, subject_id=booking.id, scenario=config.slug, payer_person_id=booking.booker_person_id,
        payee_org_id=resource.owner_org_id, amount_fen=resource.price_fen * booking.units,
        description=f"{config.title_zh} {resource.name} {start:%m月%d日 %H:%M}"[:127], now=now,
        expires_in=until - now if until is not None else timedelta(minutes=config.payment_minutes))
    booking.payment_id = intent.id
    return intent


def require_unpriced(booking: BkBooking) -> None:
    """A priced hold is confirmed by paying it, not by the confirm route (409 ``payment_required``)."""
    if booking.payment_id is not None:
        raise ApiError("payment_required", detail={"payment_id": booking.payment_id})


def ended(session: Session, booking: BkBooking, *, reason: str, now: datetime) -> None:
    """A priced booking ended: close its unpaid intent, or refund what is left (not for a no-show)."""
    if booking.payment_id is None:
        return
    intent = session.get(LgPaymentIntent, booking.payment_id)
    if purposes.close(session, intent, now=now) or reason in NO_REFUND_REASONS:
        return
    purposes.refund(session, intent, now=now, reason=reason[:80])
