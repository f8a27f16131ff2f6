"""The booking engine's part of a person's export: bookings and waitlist places made by them or
for them (the other person of a booking made for someone else is named masked)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import ON_CANCELLATION, Keep
from auth.models import Person
from auth.pii import mask_name
from scenarios.engines.booking.models import BkBooking, BkWaitlistEntry


def _row(session: Session, subject: Subject, obj: BkBooking | BkWaitlistEntry) -> dict:
    row = plain(obj, exclude=("booker_account_id",))
    for key in ("person_id", "booker_person_id"):
        other = getattr(obj, key)
        if other is not None and other != subject.person_id:
            person = session.get(Person, other)
            row[key] = None
            row[key.replace("_id", "_name")] = mask_name(person.name) if person is not None else None
    return row


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    def mine(model: type) -> sa.ColumnElement[bool]:
        return sa.or_(model.person_id == subject.person_id, model.booker_person_id == subject.person_id,
                      model.booker_account_id.in_(subject.account_ids))

    return {
        "bookings": [_row(session, subject, b) for b in session.scalars(
            sa.select(BkBooking).where(mine(BkBooking)).order_by(BkBooking.id))],
        "waitlist": [_row(session, subject, w) for w in session.scalars(
            sa.select(BkWaitlistEntry).where(mine(BkWaitlistEntry)).order_by(BkWaitlistEntry.id))],
    }


PERSONAL_DATA = PersonalData(
    name="booking",
    tables=("bk_bookings", "bk_waitlist"),
    sections=(Section("bookings", "预约"), Section("waitlist", "候补")),
    collect=_collect,
    retention=(Keep("bk_bookings", "预约", None, ON_CANCELLATION),
               Keep("bk_waitlist", "候补", None, ON_CANCELLATION)),
)
