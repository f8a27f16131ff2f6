"""Demo data of online-consult: ``demo-resident-2`` (real-name verified here) was seen at
复旦大学附属金山医院's 内科 a month ago (a checked-in booking on the booking engine) and has asked
for a renewal of 二甲双胍片; the hospital's demo doctor (discharge-summary's demo,
``demo-310116-hosp-fudan-jinshan-doctor``) answers in the console. Idempotent."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import as_resident, dev_resident
from auth.models import Person
from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot
from scenarios.engines.workflow import service as workflow
from scenarios.online_consult.models import OcConsult

RESOURCE = "310116-hosp-fudan-jinshan-nk-1"


def load(session: Session, clock: Clock) -> None:
    from scenarios.online_consult import CONFIG

    resource = session.scalar(sa.select(BkResource).where(BkResource.code == RESOURCE))
    if resource is None:
        return
    patient = dev_resident(session, 2)
    if session.scalar(sa.select(OcConsult.ticket_id).where(OcConsult.patient_person_id == patient.person_id)):
        return
    session.get(Person, patient.person_id).real_name_level = "verified"
    seen = clock.now() - timedelta(days=30)
    slot = BkSlot(resource_id=resource.id, scenario=resource.scenario, starts_at=seen,
                  ends_at=seen + timedelta(minutes=15), capacity=1, booked=1, held=0, status="open")
    session.add(slot)
    session.flush()
    session.add(BkBooking(scenario=resource.scenario, resource_id=resource.id, slot_id=slot.id,
                          person_id=patient.person_id, booker_person_id=patient.person_id, booker_account_id=patient.id,
                          units=1, places=1, whole_unit=False, status="checked_in", checked_in=1, created_at=seen,
                          updated_at=seen, confirmed_at=seen))
    session.flush()
    workflow.create(session, clock=clock, principal=as_resident(patient), config=CONFIG, data={
        "category": "复诊续方", "text": "糖尿病复诊续方", "hospital": "310116-hosp-fudan-jinshan", "department": "内科",
        "symptoms": "血糖控制平稳，空腹 6.5 左右，无不适",
        "renew": [{"medicine": "二甲双胍片", "dose": "0.5g 每日两次"}]})
