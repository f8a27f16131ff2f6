"""discharge-summary's part of a person's export: their summaries in full (the fields are theirs).
Kept as inpatient records are (30 years, 《医疗机构病历管理规定》); cancelling an account does not
delete them (the person row stays as a tombstone)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject
from app.privacy.retention import Keep
from auth.organisations import Organisation
from scenarios.discharge_summary.models import DsSummary


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    rows = session.execute(sa.select(DsSummary, Organisation.name)
                           .join(Organisation, Organisation.id == DsSummary.org_id)
                           .where(DsSummary.patient_person_id == subject.person_id).order_by(DsSummary.id))
    return {"discharge_summaries": [
        {"id": s.id, "hospital": hospital, "department": s.department, "admitted_on": s.admitted_on,
         "discharged_on": s.discharged_on, "diagnosis": s.diagnosis, "advice": s.advice, "medicines": s.medicines,
         "follow_ups": [{k: v for k, v in f.items() if k != "ticket_id"} for f in s.follow_ups],
         "created_at": s.created_at} for s, hospital in rows]}


PERSONAL_DATA = PersonalData(
    name="discharge-summary", tables=("ds_summaries", "ds_files"),
    sections=(Section("discharge_summaries", "出院小结"),), collect=_collect,
    retention=(Keep("ds_summaries", "出院小结（诊断、医嘱、用药、随访）", None,
                    "住院病历保存30年（《医疗机构病历管理规定》），注销账号不删除"),
               Keep("ds_files", "出院小结PDF", None, "随出院小结保存（30年）")),
)
