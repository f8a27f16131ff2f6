"""Who is told what about a booking: through the outbox, on the scenario's channel.

Recipients are the booker's account and the accounts of the person booked for (a parent
without an account is reached through the child who booked). Payloads hold what the
templates show (the resource, the time, a booking number), never personal data.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.fields import CST
from app.notify.service import Notice, Recipient, enqueue_many
from auth.models import Account
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot


def recipients(session: Session, booking: BkBooking) -> tuple[Recipient, ...]:
    ids = set(session.scalars(sa.select(Account.id).where(Account.person_id == booking.person_id,
                                                          Account.kind != "staff", Account.status == "active")))
    if booking.booker_account_id is not None:
        ids.add(booking.booker_account_id)
    return tuple(Recipient.account(i) for i in sorted(ids))


def payload(booking: BkBooking, slot: BkSlot, resource: BkResource, **extra: object) -> dict:
    start = slot.starts_at.astimezone(CST)
    return {"booking_id": booking.id, "booking_no": f"BK{booking.id:08d}", "resource": resource.name[:20],
            "place": resource.address[:20], "starts_at": start.isoformat(),
            "starts_text": start.strftime("%m月%d日 %H:%M"), "scenario": booking.scenario, **extra}


def tell(session: Session, config: BookingConfig, *, clock: Clock, template: str, event: str,
         bookings: list[tuple[BkBooking, BkSlot, BkResource]], **extra: object) -> int:
    """Enqueue ``template`` for each booking's people (once per event key and recipient)."""
    notices = [Notice(f"{event}:{b.id}:{int(s.starts_at.timestamp())}", template, recipients(session, b),
                      payload(b, s, r, **extra), channel=config.notify_channel)
               for b, s, r in bookings]
    return enqueue_many(session, notices, clock=clock)
