"""parcel-locker's part of a person's export: the parcels for their phone (the phone in full:
it is theirs) and those they were named to pick up. Finished parcels are deleted 90 days
after they were stored (the trail with them)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject
from app.privacy.retention import Keep, delete_before
from auth.models import Person
from scenarios.parcel_locker.models import Parcel


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    digest = session.scalar(sa.select(Person.phone_hash).where(Person.id == subject.person_id))
    mine = Parcel.proxy_person_id == subject.person_id
    if digest is not None:
        mine = sa.or_(Parcel.recipient_phone_hash == digest, mine)
    rows = session.scalars(sa.select(Parcel).where(mine).order_by(Parcel.stored_at))
    return {"parcels": [{"tracking_no": p.tracking_no, "courier": p.courier, "recipient_phone": p.recipient_phone,
                         "named_to_pick_up": p.proxy_person_id == subject.person_id, "status": p.status,
                         "stored_at": p.stored_at, "picked_up_at": p.picked_up_at, "retrieved_at": p.retrieved_at}
                        for p in rows]}


PERSONAL_DATA = PersonalData(
    name="parcel-locker", tables=("pl_parcels",), sections=(Section("parcels", "快件箱取件"),), collect=_collect,
    retention=(Keep("pl_parcels", "快件箱取件记录（收件手机号）", timedelta(days=90), "取件或取回后保存90天",
                    purge=delete_before("pl_parcels", "stored_at", "status <> 'stored'")),),
)
