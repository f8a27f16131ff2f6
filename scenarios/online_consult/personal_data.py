"""online-consult's part of a person's export: their consultation requests and renewals in full
(the ticket and its thread are the workflow engine's part). Kept as outpatient records are
(15 years, 《医疗机构病历管理规定》): cancelling an account does not delete them."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject
from app.privacy.retention import Keep
from scenarios.online_consult.models import OcConsult, OcRenewal


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    consults = list(session.scalars(sa.select(OcConsult).where(OcConsult.patient_person_id == subject.person_id)
                                    .order_by(OcConsult.ticket_id)))
    renewals = session.scalars(sa.select(OcRenewal).where(OcRenewal.ticket_id.in_([c.ticket_id for c in consults]))
                               .order_by(OcRenewal.id))
    return {
        "consult_requests": [{"ticket_id": c.ticket_id, "department": c.department, "symptoms": c.symptoms,
                              "renew": c.requested, "outcome": c.outcome} for c in consults],
        "prescription_renewals": [{"ticket_id": r.ticket_id, "items": r.items, "created_at": r.created_at}
                                  for r in renewals],
    }


PERSONAL_DATA = PersonalData(
    name="online-consult", tables=("oc_consults", "oc_renewals"),
    sections=(Section("consult_requests", "互联网医院复诊申请"), Section("prescription_renewals", "续方记录")),
    collect=_collect,
    retention=(Keep("oc_consults", "复诊申请（症状、续方药品）", None,
                    "门诊病历保存15年（《医疗机构病历管理规定》），注销账号不删除"),
               Keep("oc_renewals", "续方（药品、剂量、数量、天数）", None, "门诊病历保存15年，随复诊申请保存")),
)
