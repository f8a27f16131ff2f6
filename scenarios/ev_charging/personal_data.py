"""ev-charging's part of a person's export: their charging sessions (which pile, when, energy,
fee). A session says where a person's car was and when, so it is kept 3 years (the fee's record;
the payment itself is the ledger's, kept as an accounting voucher) and then deleted."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep, delete_before
from scenarios.ev_charging.models import EvPile, EvSession

KEEP = timedelta(days=3 * 365)


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    rows = session.execute(sa.select(EvSession, EvPile.code, EvPile.station)
                           .join(EvPile, EvPile.id == EvSession.pile_id)
                           .where(EvSession.person_id == subject.person_id).order_by(EvSession.started_at))
    return {"ev_sessions": [{**plain(s), "pile": code, "station": station} for s, code, station in rows]}


PERSONAL_DATA = PersonalData(
    name="ev-charging", tables=("ev_sessions",), sections=(Section("ev_sessions", "充电记录"),), collect=_collect,
    retention=(Keep("ev_sessions", "充电记录（充电桩、时间、电量、费用）", KEEP, "3年（充电费用的记录）",
                    purge=delete_before("ev_sessions", "started_at", "status <> 'charging'")),),
)
