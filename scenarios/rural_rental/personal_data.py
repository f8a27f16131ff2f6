"""rural-rental's part of a person's export: houses they let (with their inspections and
violations, the committee's staff left out), their stays as a tenant (who registered them left
out) and the rental requests they sent (the landlord left out)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.rural_rental.models import RrFollowUp, RrHouse, RrInspection, RrRentalRequest, RrStay, RrViolation


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    houses = session.scalars(sa.select(RrHouse).where(RrHouse.landlord_person_id == subject.person_id)
                             .order_by(RrHouse.id)).all()
    inspections = session.scalars(sa.select(RrInspection).where(RrInspection.house_id.in_([h.id for h in houses]))
                                  .order_by(RrInspection.id)).all() if houses else []
    stays = session.scalars(sa.select(RrStay).where(RrStay.person_id == subject.person_id).order_by(RrStay.id)).all()
    violations = session.scalars(sa.select(RrViolation).where(RrViolation.house_id.in_([h.id for h in houses]))
                                 .order_by(RrViolation.id)).all() if houses else []
    steps = session.scalars(sa.select(RrFollowUp).where(RrFollowUp.violation_id.in_([v.id for v in violations]))
                            .order_by(RrFollowUp.id)).all() if violations else []
    requests = session.scalars(sa.select(RrRentalRequest).where(RrRentalRequest.tenant_person_id == subject.person_id)
                               .order_by(RrRentalRequest.id)).all()
    return {"rental_houses": [plain(h, exclude=("landlord_account_id", "landlord_person_id")) for h in houses],
            "rental_inspections": [plain(i, exclude=("inspector_account_id",)) for i in inspections],
            "rental_stays": [plain(s, exclude=("person_id", "registered_by_account_id")) for s in stays],
            "rental_violations": [plain(v, exclude=("recorded_by_account_id",)) for v in violations],
            "rental_violation_follow_ups": [plain(f, exclude=("account_id",)) for f in steps],
            "rental_requests": [plain(r, exclude=("tenant_account_id", "tenant_person_id", "landlord_account_id"))
                                for r in requests]}


PERSONAL_DATA = PersonalData(
    name="rural-rental", tables=("rr_houses", "rr_inspections", "rr_stays", "rr_violations", "rr_violation_follow_ups",
                                 "rr_rental_requests"),
    sections=(Section("rental_houses", "出租房屋"), Section("rental_inspections", "出租房屋安全检查"),
              Section("rental_stays", "租住登记（人来登记、人走注销）"),
              Section("rental_violations", "出租房屋违规记录"),
              Section("rental_violation_follow_ups", "违规的跟进与整改"), Section("rental_requests", "租房申请")),
    collect=_collect,
    retention=(Keep("rr_houses", "出租房屋登记", None, "房屋出租期间保存；期限待定"),
               Keep("rr_inspections", "安全检查记录", None, "随房屋登记保存"),
               Keep("rr_stays", "租住登记", None, "作为流动人口登记留档；期限待定"),
               Keep("rr_violations", "违规记录", None, "随房屋登记保存（绿牌评定看最近 12 个月）"),
               Keep("rr_violation_follow_ups", "违规的跟进", None, "随违规记录保存"),
               Keep("rr_rental_requests", "租房申请", None, "随房源保存；期限待定")),
)
