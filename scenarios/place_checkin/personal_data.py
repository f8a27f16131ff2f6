"""place-checkin's part of a person's export: their check-ins (kept 28 days, jobs.py)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.place_checkin.models import Checkin, CheckinPlace


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    rows = session.execute(sa.select(Checkin, CheckinPlace.name).join(CheckinPlace, CheckinPlace.id == Checkin.place_id)
                           .where(Checkin.person_id == subject.person_id).order_by(Checkin.at))
    return {"checkins": [{**plain(c), "place_name": name} for c, name in rows]}


PERSONAL_DATA = PersonalData(
    name="place-checkin", tables=("checkins",), sections=(Section("checkins", "场所码登记"),), collect=_collect,
    retention=(Keep("checkins", "场所码登记记录", timedelta(days=28), "28天（可由 CHECKIN_RETENTION_DAYS 设置）",
                    job="purge_checkins"),),
)
