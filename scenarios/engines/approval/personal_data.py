"""The approval engine's part of a person's export: their applications (the form as stored:
ID numbers in it are masked by the scenario's schema) and the decisions on them (the deciding
staff member left out)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.engines.approval.models import OPEN_STATES, ApApplication, ApDecision

KEEP = timedelta(days=3 * 365)
"""A decided application's personal data (the form, the applicant's note, the person) is kept
three years after the decision — the assumed period of an administrative file open to review
and complaint, as residences kept for rental registrations (to be confirmed by the district's
legal counsel) — then anonymised: the row, its state and its decisions stay as the record."""


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    mine = sa.or_(ApApplication.applicant_person_id == subject.person_id,
                  ApApplication.applicant_account_id.in_(subject.account_ids))
    applications = session.scalars(sa.select(ApApplication).where(mine).order_by(ApApplication.id)).all()
    decisions = session.scalars(sa.select(ApDecision).where(ApDecision.application_id.in_(
        [a.id for a in applications])).order_by(ApDecision.id)).all() if applications else []
    return {"applications": [plain(a, exclude=("applicant_account_id", "applicant_person_id",
                                               "decided_by_account_id")) for a in applications],
            "application_decisions": [plain(d, exclude=("account_id",)) for d in decisions]}


def anonymise_decided(session: Session, cutoff: datetime) -> int:
    """Decided before ``cutoff``: the form emptied, the note and the person taken off; returns how many."""
    rows = session.scalars(sa.select(ApApplication).where(
        ApApplication.state.not_in(OPEN_STATES), ApApplication.decided_at < cutoff,
        sa.or_(ApApplication.applicant_person_id.is_not(None), ApApplication.note.is_not(None),
               sa.cast(ApApplication.form, sa.Text) != "{}"))).all()
    for row in rows:
        row.form, row.note, row.applicant_person_id = {}, None, None
    session.flush()
    return len(rows)


PERSONAL_DATA = PersonalData(
    name="approval", tables=("ap_applications", "ap_decisions"),
    sections=(Section("applications", "提交的申请"), Section("application_decisions", "申请的审核记录")),
    collect=_collect,
    retention=(Keep("ap_applications", "申请（如租前审批）", KEEP,
                    "作为审批档案，决定后保存3年后匿名化（表单、备注、申请人；依据假定：行政复议与投诉期，"
                    "待区法律顾问确认）", purge=anonymise_decided),
               Keep("ap_decisions", "审核记录", None, "随申请保存")),
)
