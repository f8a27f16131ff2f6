"""How long the listing engine keeps an entry that is off the market (its retention entry, run
hourly by ``app.privacy.retention.enforce_retention`` with ``cutoff = now - KEEP``).

An entry withdrawn or rejected a year ago is deleted with its history (``ls_events`` cascade),
unless a row elsewhere still refers to it (a rental room, a rental request): the engine knows no
scenario, so it asks the metadata which foreign keys point at ``ls_entries.id``; such an entry goes
once that row has gone by its own schedule (rural-rental's houses after three years).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import Base
from scenarios.engines.listing.models import LsEntry, LsEvent

KEEP = timedelta(days=365)
ENDED = ("withdrawn", "rejected")
BASIS = "撤下或被驳回满1年、且无其他记录（如出租房间、租房申请）引用后删除，连同处理记录"


def _referring_columns() -> list[sa.Column]:
    """Columns of other tables holding an entry's id (its own history excepted)."""
    target = LsEntry.__table__.c.id
    return [fk.parent for table in Base.metadata.tables.values() if table is not LsEvent.__table__
            for fk in table.foreign_keys if fk.column is target]


def purge_entries(session: Session, cutoff: datetime) -> int:
    """Entries off the market since before ``cutoff`` that nothing refers to; their history goes with them."""
    unreferenced = [~sa.exists().where(col == LsEntry.id) for col in _referring_columns()]
    ids = list(session.scalars(sa.select(LsEntry.id).where(LsEntry.state.in_(ENDED), LsEntry.updated_at < cutoff,
                                                          *unreferenced)))
    if not ids:
        return 0
    quietly = {"synchronize_session": False}
    session.execute(sa.delete(LsEvent).where(LsEvent.entry_id.in_(ids)), execution_options=quietly)
    return session.execute(sa.delete(LsEntry).where(LsEntry.id.in_(ids)), execution_options=quietly).rowcount or 0
