"""The slot counters, moved only by conditional updates: no overbooking under any concurrency.

A reservation first releases the slot's expired holds (a compare-and-set on each booking's
status, so two transactions never release the same hold twice), then takes its units with one
``UPDATE … WHERE booked + held + n <= capacity``: one row changed, or nothing was taken. On
PostgreSQL a concurrent update of the same slot waits for the row lock and re-evaluates the
condition on the committed row; on SQLite writers are serialised (``BEGIN IMMEDIATE``). The
check constraint on ``bk_slots`` would refuse an overbooking even if this code were wrong.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scenarios.engines.booking.models import BkBooking, BkSlot

SLOTS = BkSlot.__table__
BOOKINGS = BkBooking.__table__


def release_expired_holds(session: Session, slot_id: int, now: datetime) -> list[int]:
    """Mark the slot's holds past ``hold_expires_at`` expired and give their units back.
    Returns the ids of the bookings it expired."""
    rows = session.execute(
        sa.update(BOOKINGS)
        .where(BOOKINGS.c.slot_id == slot_id, BOOKINGS.c.status == "held", BOOKINGS.c.hold_expires_at <= now)
        .values(status="expired", ended_at=now, updated_at=now, end_reason="hold_expired")
        .returning(BOOKINGS.c.id, BOOKINGS.c.units)).all()
    units = sum(r.units for r in rows)
    if units:
        session.execute(sa.update(SLOTS).where(SLOTS.c.id == slot_id).values(held=SLOTS.c.held - units))
    return [r.id for r in rows]


def take(session: Session, slot_id: int, units: int, now: datetime, *, hold: bool) -> bool:
    """Take ``units`` of an open, future slot as held or booked; False when they are not free."""
    column = SLOTS.c.held if hold else SLOTS.c.booked
    result = session.execute(
        sa.update(SLOTS)
        .where(SLOTS.c.id == slot_id, SLOTS.c.status == "open", SLOTS.c.starts_at > now,
               SLOTS.c.booked + SLOTS.c.held + units <= SLOTS.c.capacity)
        .values({column.name: column + units}))
    return result.rowcount == 1


def give_back(session: Session, slot_id: int, units: int, *, held: bool) -> None:
    """Return units a booking held or booked (its status already moved by a compare-and-set)."""
    column = SLOTS.c.held if held else SLOTS.c.booked
    session.execute(sa.update(SLOTS).where(SLOTS.c.id == slot_id).values({column.name: column - units}))


def hold_to_booked(session: Session, slot_id: int, units: int) -> None:
    session.execute(sa.update(SLOTS).where(SLOTS.c.id == slot_id)
                    .values(held=SLOTS.c.held - units, booked=SLOTS.c.booked + units))


def move_status(session: Session, booking_id: int, expected: str | tuple[str, ...], now: datetime,
                **values: object) -> bool:
    """Compare-and-set a booking's status: True when it was ``expected`` and is now changed."""
    expected = (expected,) if isinstance(expected, str) else expected
    result = session.execute(sa.update(BOOKINGS).where(BOOKINGS.c.id == booking_id,
                                                       BOOKINGS.c.status.in_(expected))
                             .values(updated_at=now, **values))
    return result.rowcount == 1


def stale_holds() -> sa.ScalarSelect:
    """Per slot (correlated): the units of holds already past their expiry, counted free."""
    b = BOOKINGS
    return (sa.select(sa.func.coalesce(sa.func.sum(b.c.units), 0))
            .where(b.c.slot_id == SLOTS.c.id, b.c.status == "held",
                   b.c.hold_expires_at <= sa.bindparam("now"))
            .scalar_subquery())


def free_units(session: Session, slot_id: int, now: datetime) -> int:
    stmt = sa.select(SLOTS.c.capacity - SLOTS.c.booked - SLOTS.c.held + stale_holds()).where(SLOTS.c.id == slot_id)
    return int(session.execute(stmt, {"now": now}).scalar_one())
