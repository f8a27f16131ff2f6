"""Enrolment: a committee (of its own area) or 区民政局 enrols a person aged 80 or over, found
by their verified ID number, with 本市户籍 checked, living alone; contacts in order; devices of
the call centre worn by them. Ending an enrolment records why and when and releases its
devices."""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.places.service import local_date
from auth import pii
from auth.audit import record_unmasked_read
from auth.models import Account, Device, Person
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.elderly_sos.access import lists_enrolments, reads_health
from scenarios.elderly_sos.models import SosContact, SosDevice, SosEnrolment
from scenarios.elderly_sos.places import CIVIL_AFFAIRS

MIN_AGE = 80
COMMITTEE_TYPES = ("neighbourhood_committee", "village_committee")


def can_enrol(principal: Principal) -> bool:
    return principal.is_staff and (
        (principal.org_type in COMMITTEE_TYPES and principal.role == "committee")
        or (principal.org_code == CIVIL_AFFAIRS))


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _person(session: Session, id_number: str) -> Person:
    problem = pii.id_number_problem(id_number)
    if problem:
        raise ApiError("validation_error", errors={"id_number": [problem]})
    person = session.scalar(sa.select(Person).where(Person.id_number_hash == Person.id_number_lookup(id_number)))
    if person is None or person.real_name_level != "verified" or person.birth_date is None:
        raise ApiError("sos_person_unverified", errors={"id_number": ["此身份证号没有已实名认证的居民。"]})
    return person


def _contact_account(session: Session, phone: str | None) -> int | None:
    """The resident account of the person with this phone, when there is one (they follow alarms)."""
    if not phone:
        return None
    person_ids = sa.select(Person.id).where(Person.phone_hash == pii.lookup_hash("person.phone", phone))
    return session.scalar(sa.select(Account.id).where(Account.person_id.in_(person_ids), Account.kind != "staff",
                                                      Account.status == "active").order_by(Account.id).limit(1))


def enrol(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> SosEnrolment:
    if not can_enrol(principal):
        raise ApiError("forbidden")
    committee_id = principal.org_id if principal.org_type in COMMITTEE_TYPES else data.get("committee_org_id")
    committee = session.get(Organisation, committee_id) if committee_id is not None else None
    if committee is None or committee.type not in COMMITTEE_TYPES:
        raise ApiError("validation_error", errors={"committee_org_id": ["请指定负责的居（村）委会。"]})
    if not data["hukou_shanghai"]:
        raise ApiError("sos_not_eligible", errors={"hukou_shanghai": ["仅限本市户籍。"]})
    if not data["lives_alone"]:
        raise ApiError("sos_not_eligible", errors={"lives_alone": ["仅限独居老人。"]})
    person = _person(session, data["id_number"])
    today = local_date(clock)
    if age_on(person.birth_date, today) < MIN_AGE:  # type: ignore[arg-type]
        raise ApiError("sos_not_eligible", errors={"id_number": [f"须年满 {MIN_AGE} 周岁。"]})
    if session.scalar(sa.select(SosEnrolment.id).where(SosEnrolment.person_id == person.id,
                                                      SosEnrolment.state == "active")) is not None:
        raise ApiError("sos_already_enrolled")
    now = clock.now()
    point = f"{data['lat']:.6f},{data['lon']:.6f}" if data.get("lat") is not None else None
    enrolment = SosEnrolment(person_id=person.id, committee_org_id=committee_id,
                             enrolled_by_account_id=principal.account_id, hukou_shanghai=True, lives_alone=True,
                             address=data["address"].strip(), home_point=point, health=data.get("health") or None,
                             state="active", created_at=now, updated_at=now)
    session.add(enrolment)
    session.flush()
    for position, c in enumerate(data.get("contacts") or [], 1):
        phone = pii.normalise_mobile(c["phone"]) if c.get("phone") else None
        account_id = _contact_account(session, phone)
        session.add(SosContact(enrolment_id=enrolment.id, position=position, relation=c["relation"],
                               name=c["name"].strip(), phone=phone, account_id=account_id,
                               may_alarm=bool(account_id) and c["relation"] == "family"))
    session.flush()
    return enrolment


def end(session: Session, *, clock: Clock, principal: Principal, enrolment_id: int, reason: str,
        on: date | None = None) -> SosEnrolment:
    """End with a reason and a date; the devices worn are released."""
    enrolment = session.scalar(sa.select(SosEnrolment).where(SosEnrolment.id == enrolment_id).with_for_update())
    if enrolment is None:
        raise ApiError("not_found")
    if not can_enrol(principal) or (principal.org_type in COMMITTEE_TYPES
                                    and principal.org_id != enrolment.committee_org_id):
        raise ApiError("forbidden")
    if enrolment.state != "active":
        raise ApiError("invalid_transition", detail={"current_status": enrolment.state})
    now = clock.now()
    enrolment.state, enrolment.end_reason, enrolment.ended_on = "ended", reason, on or local_date(clock)
    enrolment.updated_at = now
    session.execute(sa.update(SosDevice).where(SosDevice.enrolment_id == enrolment.id)
                    .values(enrolment_id=None, released_at=now), execution_options={"synchronize_session": False})
    return enrolment


def listed(principal: Principal, *, state: str | None = "active") -> sa.Select:
    """The enrolments a staff member lists, newest first: a committee its own; 区民政局, the call
    centre and the district every one (403 for anyone else)."""
    if not lists_enrolments(principal):
        raise ApiError("forbidden")
    stmt = sa.select(SosEnrolment)
    if principal.org_type in COMMITTEE_TYPES:
        stmt = stmt.where(SosEnrolment.committee_org_id == principal.org_id)
    if state is not None:
        stmt = stmt.where(SosEnrolment.state == state)
    return stmt.order_by(SosEnrolment.created_at.desc(), SosEnrolment.id.desc())


def read_health(session: Session, *, clock: Clock, principal: Principal, enrolment: SosEnrolment,
                reason: str | None) -> str | None:
    """The health notes in clear, once the read is in the audit log with its reason (the caller
    commits): the call centre, the person's committee, 区民政局 (403 for anyone else)."""
    if not reads_health(principal, enrolment):
        raise ApiError("forbidden")
    record_unmasked_read(session, clock=clock, principal=principal, subject_person_id=enrolment.person_id,
                         fields=("health",), reason=reason)
    return enrolment.health


def register_device(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> SosDevice:
    """The call centre's manager registers one of its devices as a pull cord or wearable,
    worn by an enrolled person (or by nobody yet)."""
    if not (principal.is_staff and principal.org_type == "call_centre" and principal.role == "manager"):
        raise ApiError("forbidden")
    device = session.scalar(sa.select(Device).where(Device.uid == data["device_uid"],
                                                    Device.organisation_id == principal.org_id))
    if device is None:
        raise ApiError("not_found")
    enrolment_id = data.get("enrolment_id")
    if enrolment_id is not None:
        enrolment = session.get(SosEnrolment, enrolment_id)
        if enrolment is None or enrolment.state != "active":
            raise ApiError("validation_error", errors={"enrolment_id": ["没有此在册登记。"]})
    now = clock.now()
    row = session.scalar(sa.select(SosDevice).where(SosDevice.device_id == device.id).with_for_update())
    if row is None:
        row = SosDevice(device_id=device.id, kind=data["kind"])
        session.add(row)
    row.kind, row.enrolment_id = data["kind"], enrolment_id
    row.assigned_at, row.released_at = (now if enrolment_id else None), None
    session.flush()
    from scenarios.elderly_sos.inactivity import watch

    watch(session, clock=clock, device=row)
    return row
