"""The listing engine's part of a person's export: the entries they own and each entry's history
(who acted on it left out: staff's work, not the owner's data)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.engines.listing import retention
from scenarios.engines.listing.models import LsEntry, LsEvent


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    owned = sa.or_(LsEntry.owner_person_id == subject.person_id, LsEntry.owner_account_id.in_(subject.account_ids))
    entries = session.scalars(sa.select(LsEntry).where(owned).order_by(LsEntry.id)).all()
    events = session.scalars(sa.select(LsEvent).where(LsEvent.entry_id.in_([e.id for e in entries]))
                             .order_by(LsEvent.id)).all() if entries else []
    return {"listings": [plain(e, exclude=("owner_account_id", "owner_person_id", "search_text")) for e in entries],
            "listing_events": [plain(e, exclude=("account_id",)) for e in events]}


PERSONAL_DATA = PersonalData(
    name="listing", tables=("ls_entries", "ls_events"),
    sections=(Section("listings", "发布的信息（房源等）"), Section("listing_events", "信息的审核与上下架记录")),
    collect=_collect,
    retention=(Keep("ls_entries", "发布的信息", retention.KEEP, retention.BASIS, purge=retention.purge_entries),
               Keep("ls_events", "信息的处理记录", None, "随条目保存")),
)
