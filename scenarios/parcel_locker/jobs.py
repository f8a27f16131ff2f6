"""parcel-locker's timer: a parcel overdue (level 0 at 24 h: remind; level 1 at 72 h: tell the
operator to retrieve it)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.clock import Clock
from app.timers import Timer, timer_handler
from scenarios.parcel_locker.service import OVERDUE, overdue


@timer_handler(OVERDUE)
def parcel_overdue(session: Session, timer: Timer, clock: Clock) -> None:
    overdue(session, clock=clock, parcel_id=int(timer.subject_id), level=timer.level)
