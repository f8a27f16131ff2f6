"""place-checkin's part of a person's export: their check-ins (kept 28 days, jobs.py)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from scenarios.place_checkin.models import Checkin, CheckinPlace


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    rows = session.execute(sa.select(Checkin, CheckinPlace.name).join(CheckinPlace, CheckinPlace.id == Checkin.place_id)
                           .where(Checkin.person_id == subject.person_id).order_by(Checkin.at))
    return {"checkins": [{**plain(c), "place_name": name} for c, name in rows]}


PERSONAL_DATA = PersonalData(
    name="place-checkin", tables=("checkins",), sections=(Section("checkins", "场所码登记"),), collect=_collect,
)
