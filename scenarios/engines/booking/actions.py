"""The booking engine's actions on one booking, as data: ``POST /bookings/<id>/<path>``.

A row names the path, the arguments' schema, the service, and its summary; the service is
``service(session, *, clock, principal, config, booking, **arguments)`` and returns the booking.
One generic view (routes.py) serves every row: visibility first (404), then the service
decides 403/409. Adding an action is one row and one service.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scenarios.engines.booking import service as svc
from scenarios.engines.booking.schemas import BookingCancelSchema, BookingEmptySchema, BookingRescheduleSchema


@dataclass(frozen=True)
class Action:
    path: str
    endpoint: str
    schema: type
    service: Callable[..., Any]
    summary: str
    errors: str


ACTIONS: tuple[Action, ...] = (
    Action("confirm", "confirm", BookingEmptySchema, svc.confirm,
           "Confirm a hold before `hold_expires_at` (after: 409 `hold_expired`, the place is released). The "
           "booker or the person booked for. A priced hold is confirmed by paying its `payment_id` instead: 409 "
           "`payment_required`.", "`hold_expired`, `booking_not_active`, `payment_required`"),
    Action("cancel", "cancel", BookingCancelSchema, svc.cancel,
           "Cancel a hold or a confirmed booking within the scenario's notice rule (409 `cancel_too_late`, the "
           "rule in the message); the pass is revoked and the place offered to the waitlist. A paid booking is "
           "refunded in full (the booker is told); an unpaid one's payment is closed.",
           "`cancel_too_late`, `booking_not_active`"),
    Action("reschedule", "reschedule", BookingRescheduleSchema, svc.reschedule,
           "改约: move to another slot of the scenario in one step (the new place is taken and the old one "
           "released together, or nothing changes); a confirmed booking gets a new pass.",
           "`slot_full`, `slot_closed`, `cancel_too_late`, `booking_not_active`"),
)
