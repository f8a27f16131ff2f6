"""rural-rental's part of a person's export: houses they let (with their inspections and
violations, the committee's staff left out), their stays as a tenant (who registered them left
out) and the rental requests they sent (the landlord left out)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.rural_rental import retention as kept
from scenarios.rural_rental.models import (
    RrFollowUp,
    RrHouse,
    RrInspection,
    RrRentalRequest,
    RrStay,
    RrTenancy,
    RrViolation,
)


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
    tenancies = session.scalars(sa.select(RrTenancy).where(sa.or_(
        RrTenancy.house_id.in_([h.id for h in houses]),
        RrTenancy.id.in_([s.tenancy_id for s in stays]))).order_by(RrTenancy.id)).all() if houses or stays else []
    requests = session.scalars(sa.select(RrRentalRequest).where(RrRentalRequest.tenant_person_id == subject.person_id)
                               .order_by(RrRentalRequest.id)).all()
    return {"rental_houses": [plain(h, exclude=("landlord_account_id", "landlord_person_id")) for h in houses],
            "rental_inspections": [plain(i, exclude=("inspector_account_id",)) for i in inspections],
            "rental_stays": [plain(s, exclude=("person_id", "registered_by_account_id")) for s in stays],
            # the tenants are other people (to a landlord, and to each other): their count, not their ids
            "rental_tenancies": [plain(t, exclude=("tenant_person_ids",)) for t in tenancies],
            "rental_violations": [plain(v, exclude=("recorded_by_account_id",)) for v in violations],
            "rental_violation_follow_ups": [plain(f, exclude=("account_id",)) for f in steps],
            "rental_requests": [plain(r, exclude=("tenant_account_id", "tenant_person_id", "landlord_account_id"))
                                for r in requests]}


PERSONAL_DATA = PersonalData(
    name="rural-rental", tables=("rr_houses", "rr_inspections", "rr_tenancies", "rr_stays", "rr_violations",
                                 "rr_violation_follow_ups", "rr_rental_requests"),
    sections=(Section("rental_houses", "出租房屋"), Section("rental_inspections", "出租房屋安全检查"),
              Section("rental_tenancies", "租约（房东登记的、您租住的）"),
              Section("rental_stays", "租住登记（人来登记、人走注销）"),
              Section("rental_violations", "出租房屋违规记录"),
              Section("rental_violation_follow_ups", "违规的跟进与整改"), Section("rental_requests", "租房申请")),
    collect=_collect,
    retention=(Keep("rr_houses", "出租房屋登记", kept.KEEP,
                    "出租期间保存；无租约、无未结违规，且3年内未登记、未检查（不再出租）后删除" + kept.BASIS,
                    purge=kept.purge_lettings),
               Keep("rr_inspections", "安全检查记录", None, "随房屋登记保存"),
               Keep("rr_tenancies", "租约", kept.KEEP, "结束（或被驳回、撤回）满3年且无租住登记后删除" + kept.BASIS,
                    purge=kept.purge_tenancies),
               Keep("rr_stays", "租住登记", kept.KEEP,
                    "人走注销（或租期届满）后保存3年，作为流动人口登记留档" + kept.BASIS, purge=kept.purge_stays),
               Keep("rr_violations", "违规记录", None, "随房屋登记保存（绿牌评定看最近 12 个月）"),
               Keep("rr_violation_follow_ups", "违规的跟进", None, "随违规记录保存"),
               Keep("rr_rental_requests", "租房申请", kept.KEEP, "处理后保存3年（答复与争议）" + kept.BASIS,
                    purge=kept.purge_requests)),
)
