"""The approval engine's part of a person's export: their applications (the form as stored:
ID numbers in it are masked by the scenario's schema) and the decisions on them (the deciding
staff member left out)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.engines.approval.models import ApApplication, ApDecision


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    mine = sa.or_(ApApplication.applicant_person_id == subject.person_id,
                  ApApplication.applicant_account_id.in_(subject.account_ids))
    applications = session.scalars(sa.select(ApApplication).where(mine).order_by(ApApplication.id)).all()
    decisions = session.scalars(sa.select(ApDecision).where(ApDecision.application_id.in_(
        [a.id for a in applications])).order_by(ApDecision.id)).all() if applications else []
    return {"applications": [plain(a, exclude=("applicant_account_id", "applicant_person_id",
                                               "decided_by_account_id")) for a in applications],
            "application_decisions": [plain(d, exclude=("account_id",)) for d in decisions]}


PERSONAL_DATA = PersonalData(
    name="approval", tables=("ap_applications", "ap_decisions"),
    sections=(Section("applications", "提交的申请"), Section("application_decisions", "申请的审核记录")),
    collect=_collect,
    retention=(Keep("ap_applications", "申请（如租前审批）", None, "作为审批档案保存；期限待定"),
               Keep("ap_decisions", "审核记录", None, "随申请保存")),
)
