"""Who may book a hospital appointment online, as data: a real-name verified booker, a patient
with a recorded ID number (就诊人), and the no-show policy (3 no-shows within 90 days suspend
online booking for the next 90 days, explained in the refusal)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from auth.models import Person
from scenarios.engines.booking.models import BkBooking, BkSlot

SLUG = "hospital-appointment"


@dataclass(frozen=True)
class NoShowPolicy:
    count: int = 3
    within_days: int = 90
    suspend_days: int = 90


NO_SHOWS = NoShowPolicy()


def cancel_deadline(starts_at: datetime) -> datetime:
    """20:00 (Beijing) the evening before the appointment."""
    day = starts_at.astimezone(CST).date() - timedelta(days=1)
    return datetime.combine(day, time(20), CST)


def reminder_at(starts_at: datetime) -> datetime:
    """19:00 the evening before: still time to cancel."""
    day = starts_at.astimezone(CST).date() - timedelta(days=1)
    return datetime.combine(day, time(19), CST)


def suspended_until(session: Session, person_id: int, now: datetime, policy: NoShowPolicy = NO_SHOWS
                    ) -> tuple[datetime, int] | None:
    """(until when, no-shows in the window) while the policy suspends the patient, else None."""
    since = now - timedelta(days=policy.within_days + policy.suspend_days)
    starts = sorted(session.scalars(sa.select(BkSlot.starts_at).join(BkBooking, BkBooking.slot_id == BkSlot.id).where(
        BkBooking.person_id == person_id, BkBooking.scenario == SLUG, BkBooking.status == "no_show",
        BkSlot.starts_at >= since)).all())
    for i in range(policy.count - 1, len(starts)):
        if starts[i] - starts[i - policy.count + 1] <= timedelta(days=policy.within_days):
            until = starts[i] + timedelta(days=policy.suspend_days)
            if until > now:
                return until, policy.count
    return None


def may_book(session: Session, *, clock: Clock, booker: Person, person: Person) -> None:
    """The engine's ``may_book`` of hospital-appointment."""
    if booker is None or booker.real_name_level != "verified":
        raise ApiError("realname_required")
    if person.id_number_hash is None:
        raise ApiError("patient_id_required", errors={"person_id": ["就诊人需先登记身份证号（添加亲友时填写）。"]})
    suspended = suspended_until(session, person.id, clock.now())
    if suspended is not None:
        until, count = suspended
        raise ApiError("online_booking_suspended", message=(
            f"就诊人 {NO_SHOWS.within_days} 天内爽约 {count} 次，{NO_SHOWS.suspend_days} 天内不能网上预约"
            f"（至 {until.astimezone(CST).strftime('%Y年%m月%d日')}），请到医院窗口挂号。"),
            detail={"until": until.isoformat()})
