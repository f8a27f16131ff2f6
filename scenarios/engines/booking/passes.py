"""A confirmed booking's pass (``qr.passes``): multi-use, admitting up to the booked places
from ``early_entry_minutes`` before the slot to its end; revoked when the booking ends or moves.
The token is drawn again from the row whenever the booking is shown (``qr.passes.pass_token``)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.clock import Clock
from qr.models import QrPass
from qr.passes import issue_pass, pass_token, revoke_passes_for
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import BkBooking, BkSlot

HOLDER = "person"
FRESH_TOKENS = "bk_fresh_pass_tokens"


def issue(session: Session, config: BookingConfig, booking: BkBooking, slot: BkSlot, *, clock: Clock) -> QrPass:
    row, token = issue_pass(session, purpose=config.pass_purpose, ref=booking.ref, holder_type=HOLDER,
                            holder_id=booking.person_id, single_use=False,
                            valid_from=slot.starts_at - timedelta(minutes=config.early_entry_minutes),
                            valid_until=slot.ends_at, clock=clock)
    booking.pass_id = row.id
    # the answer shows it without reading the row or signing again
    session.info.setdefault(FRESH_TOKENS, {})[row.id] = (row, token)
    return row


def revoke(session: Session, booking: BkBooking, *, clock: Clock, reason: str) -> int:
    if booking.pass_id is None:
        return 0
    return revoke_passes_for(session, purpose=session.get(QrPass, booking.pass_id).purpose, ref=booking.ref,
                             clock=clock, reason=reason)


def view(session: Session, booking: BkBooking, *, clock: Clock) -> dict | None:
    """The pass as its holder sees it (the token to draw), while it can still admit."""
    if booking.pass_id is None or booking.status not in ("confirmed", "checked_in"):
        return None
    fresh = session.info.get(FRESH_TOKENS, {}).get(booking.pass_id)  # not if rolled back since
    row, token = fresh if fresh is not None and fresh[0] in session else (session.get(QrPass, booking.pass_id), None)
    if row is None or row.revoked_at is not None or row.valid_until <= clock.now():
        return None
    token = token or pass_token(row, clock=clock)
    return {"token": token, "valid_from": row.valid_from, "valid_until": row.valid_until,
            "admits": booking.places, "admitted": booking.checked_in}
