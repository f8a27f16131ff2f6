"""Demo data of hospital-appointment: departments and doctors' clinics at every hospital and
community health centre of the reference data (15-minute slots at hospitals, 10 at health
centres, 08:00–11:30 and 13:30–16:30 on working days), a kiosk each, and a clerk of 复旦大学附属金山医院
(``demo-310116-hosp-fudan-jinshan-clerk``). Idempotent."""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import staff_account
from auth.models import Device
from auth.organisations import Organisation
from auth.principal import device_secret_hash
from scenarios.engines.booking.demo import ensure_resource
from scenarios.hospital_appointment import CONFIG

HOURS = [{"weekday": d, "opens_minute": o, "closes_minute": c} for d in range(5)
         for o, c in ((8 * 60, 11 * 60 + 30), (13 * 60 + 30, 16 * 60 + 30))]
HOSPITAL_DEPARTMENTS = (("nk", "内科", "王主任"), ("wk", "外科", "李医生"), ("ek", "儿科", "陈医生"))
FIRST_HOSPITAL = "310116-hosp-fudan-jinshan"
CENTRE_DEPARTMENTS = (("qk", "全科", "赵医生"), ("zy", "中医科", "孙医生"))


def load(session: Session, clock: Clock) -> None:
    orgs = session.scalars(sa.select(Organisation).where(
        Organisation.type.in_(("hospital", "community_health_centre")), Organisation.active.is_(True))
        .order_by(Organisation.code)).all()
    for org in orgs:
        hospital = org.type == "hospital"
        if org.code == FIRST_HOSPITAL:  # its clerk is a demo account (password: app.demo.DEMO_PASSWORD)
            staff_account(session, f"demo-{org.code}-clerk", org, "clerk")
        for dept, name, doctor in HOSPITAL_DEPARTMENTS if hospital else CENTRE_DEPARTMENTS:
            resource = ensure_resource(
                session, clock, CONFIG, org, code=f"{org.code}-{dept}-1"[-40:], manager_role="admin",
                name=f"{name} {doctor}", kind="capacity", capacity=1, slot_minutes=15 if hospital else 10,
                calendar="working_days", address=org.name, hours=HOURS)
            if not resource.attributes:
                resource.attributes = {"department": name, "doctor": doctor}
        uid = "dv_demo_" + hashlib.sha256(f"kiosk:{org.code}".encode()).hexdigest()[:12]
        if session.scalar(sa.select(Device.id).where(Device.uid == uid)) is None:
            session.add(Device(uid=uid, organisation_id=org.id, kind="kiosk", name=f"{org.name}自助机",
                               secret_hash=device_secret_hash(secrets.token_urlsafe(32)), status="active"))
    session.flush()
