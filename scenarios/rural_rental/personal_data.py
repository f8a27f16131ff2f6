"""rural-rental's part of a person's export: houses they let (with their inspections, the
inspector left out) and their stays as a tenant (who registered them left out)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.rural_rental.models import RrHouse, RrInspection, RrStay


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    houses = session.scalars(sa.select(RrHouse).where(RrHouse.landlord_person_id == subject.person_id)
                             .order_by(RrHouse.id)).all()
    inspections = session.scalars(sa.select(RrInspection).where(RrInspection.house_id.in_([h.id for h in houses]))
                                  .order_by(RrInspection.id)).all() if houses else []
    stays = session.scalars(sa.select(RrStay).where(RrStay.person_id == subject.person_id).order_by(RrStay.id)).all()
    return {"rental_houses": [plain(h, exclude=("landlord_account_id", "landlord_person_id")) for h in houses],
            "rental_inspections": [plain(i, exclude=("inspector_account_id",)) for i in inspections],
            "rental_stays": [plain(s, exclude=("person_id", "registered_by_account_id")) for s in stays]}


PERSONAL_DATA = PersonalData(
    name="rural-rental", tables=("rr_houses", "rr_inspections", "rr_stays"),
    sections=(Section("rental_houses", "出租房屋"), Section("rental_inspections", "出租房屋安全检查"),
              Section("rental_stays", "租住登记（人来登记、人走注销）")),
    collect=_collect,
    retention=(Keep("rr_houses", "出租房屋登记", None, "房屋出租期间保存；期限待定"),
               Keep("rr_inspections", "安全检查记录", None, "随房屋登记保存"),
               Keep("rr_stays", "租住登记", None, "作为流动人口登记留档；期限待定")),
)
