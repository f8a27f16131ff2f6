"""Who may ask for a follow-up consultation and where it goes: online-consult's own rules.

- A resident, real-name verified (``realname_required``), for themselves.
- To a hospital or health centre of the district and one of its departments (those its
  booking resources name: ``records.departments``).
- With a prior visit there on record (``no_prior_visit`` 409): the booking engine's record of
  the person (a booking checked in, ``records.last_visit``), never another scenario's tables.
- The hospital owns the ticket; the request's health data is kept encrypted beside it
  (``on_filed``), the ticket's text is the patient's short title.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.models import Person
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.booking import records
from scenarios.engines.workflow.config import Placement
from scenarios.engines.workflow.models import Ticket
from scenarios.online_consult.models import OcConsult

ORG_TYPES = ("hospital", "community_health_centre")


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    if not principal.is_resident or principal.person_id is None:
        raise ApiError("forbidden")
    person = session.get(Person, principal.person_id)
    if person is None or person.real_name_level != "verified":
        raise ApiError("realname_required")
    org = session.scalar(sa.select(Organisation).where(Organisation.code == data["hospital"],
                                                       Organisation.type.in_(ORG_TYPES),
                                                       Organisation.active.is_(True)))
    if org is None:
        raise ApiError("validation_error", errors={"hospital": ["没有这家医院。"]})
    seen = records.last_visit(session, person_id=person.id, owner_org_id=org.id)
    if seen is None:
        raise ApiError("no_prior_visit", errors={"hospital": ["没有您在该医院的就诊记录，请先到医院就诊。"]})
    if data["department"] not in records.departments(session, owner_org_id=org.id):
        raise ApiError("validation_error", errors={"department": ["该医院没有这个科室。"]})
    return Placement(org=org, subject_person_id=person.id, address=org.name,
                     details={"department": data["department"], "last_visit_at": seen.isoformat()})


def on_filed(session: Session, *, ticket: Ticket, data: dict[str, Any]) -> None:
    session.add(OcConsult(ticket_id=ticket.id, patient_person_id=ticket.subject_person_id,
                          department=data["department"], symptoms=data["symptoms"],
                          requested_json=json.dumps(data["renew"], ensure_ascii=False)))
