"""Demo data of discharge-summary: at 复旦大学附属金山医院 a doctor (``demo-310116-hosp-fudan-jinshan-doctor``),
a follow-up nurse (``…-followup1``) and a department head (``…-head``); ``demo-resident-1`` has a
summary (no PDF) with a follow-up call due in three days, a ticket in the follow-up team's queue.
Idempotent."""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import as_staff, dev_resident, staff_account
from auth.organisations import Organisation
from scenarios.discharge_summary import followups
from scenarios.discharge_summary.models import DsSummary

HOSPITAL = "310116-hosp-fudan-jinshan"


def load(session: Session, clock: Clock) -> None:
    org = session.scalar(sa.select(Organisation).where(Organisation.code == HOSPITAL))
    if org is None:
        return
    doctor = staff_account(session, f"demo-{HOSPITAL}-doctor", org, "doctor")
    staff_account(session, f"demo-{HOSPITAL}-followup1", org, "followup")
    staff_account(session, f"demo-{HOSPITAL}-head", org, "department_head")
    patient = dev_resident(session, 1)
    if session.scalar(sa.select(DsSummary.id).where(DsSummary.patient_person_id == patient.person_id)):
        return
    now = clock.now()
    summary = DsSummary(org_id=org.id, patient_person_id=patient.person_id, author_account_id=doctor.id,
                        department="内科", admitted_on=(now - timedelta(days=8)).date().isoformat(),
                        discharged_on=now.date().isoformat(), diagnosis="2型糖尿病；高血压2级",
                        advice="低盐低糖饮食，监测血糖血压，两周后内分泌科复诊。",
                        medicines_json=json.dumps([{"name": "二甲双胍片", "dose": "0.5g 每日两次", "days": 14},
                                                   {"name": "氨氯地平片", "dose": "5mg 每日一次", "days": 14}],
                                                  ensure_ascii=False),
                        follow_ups_json="[]", created_at=now)
    session.add(summary)
    session.flush()
    kept = followups.file_all(session, clock=clock, principal=as_staff(doctor, org, "doctor"), summary=summary,
                              follow_ups=[{"kind": "call", "due_at": now + timedelta(days=3), "note": "询问血糖情况"}])
    summary.follow_ups_json = json.dumps(kept, ensure_ascii=False)
    session.flush()
