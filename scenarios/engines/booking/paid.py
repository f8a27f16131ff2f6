"""The booking engine's hooks on its bookings' payments (the ledger calls them, payment.py
registers them): in the transaction that books the payment's change, once per change."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.clock import FrozenClock
from scenarios.engines.booking import service
from scenarios.engines.booking.config import config_for
from scenarios.engines.booking.models import BkBooking
from scenarios.engines.ledger import purposes
from scenarios.engines.ledger.models import LgPaymentIntent

LATE_PAYMENT = "预约已失效，全额退款"


def _booking(session: Session, intent: LgPaymentIntent) -> BkBooking | None:
    return session.get(BkBooking, int(intent.subject_id), populate_existing=True)


def on_paid(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    """Paid: confirm the hold (its time may be up: the place is still held until it expires);
    the hold already gone (expired, cancelled): refund in full."""
    booking = _booking(session, intent)
    config = config_for(booking.scenario) if booking is not None else None
    if config is not None and service.confirm_held(session, config, booking, clock=FrozenClock(now),
                                                   before_expiry=False):
        return
    purposes.refund(session, intent, now=now, reason=LATE_PAYMENT)


def on_closed(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    """Closed unpaid: release the hold if its time is up (else its own timer does)."""
    booking = _booking(session, intent)
    if booking is not None:
        service.expire_hold(session, config_for(booking.scenario), booking.id, clock=FrozenClock(now))
