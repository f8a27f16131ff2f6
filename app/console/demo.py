"""The console's own demo data (``flask seed demo``, after the scenarios'), idempotent: what
the shell's pages show under ``make run`` beyond the scenarios' staff and tickets.

- ``demo-310116-admin``: a district administrator (SLA policies, audit, worker health).
- ``demo-<committee code>-committee``: a member of the neighbourhood committee of the first
  community (by code) that has one, with two residence claims to verify there from
  ``demo-resident-21`` and ``-22`` (fictitious names and numbers in the demo's 138 0000 range).
Password: ``app.demo.DEMO_PASSWORD``.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import dev_resident, staff_account
from app.places.models import Building, Community
from auth.models import Person, Residence
from auth.organisations import Organisation

DISTRICT = "310116"
CLAIMS = ((21, "测试居民甲", "13800009021", "1001"), (22, "测试居民乙", "13800009022", "1002"))


def load(session: Session, clock: Clock) -> None:
    district = session.scalar(sa.select(Organisation).where(Organisation.code == DISTRICT))
    if district is not None:
        staff_account(session, f"demo-{DISTRICT}-admin", district, "admin")
    community = session.scalar(sa.select(Community).where(Community.committee_id.is_not(None))
                               .order_by(Community.code).limit(1))
    if community is None:
        return
    committee = session.get(Organisation, community.committee_id)
    staff_account(session, f"demo-{committee.code}-committee", committee, "committee")
    building = session.scalar(sa.select(Building).where(Building.community_id == community.id)
                              .order_by(Building.number).limit(1))
    for n, name, phone, room in CLAIMS:
        account = dev_resident(session, n)
        if session.scalar(sa.select(Residence.id).where(Residence.person_id == account.person_id)) is not None:
            continue
        person = session.get(Person, account.person_id)
        person.name = name
        person.set_phone(phone)
        session.add(Residence(person_id=person.id, community_id=community.id, building_id=building.id, room=room,
                              valid_from=date(2024, 1, 1), status="claimed"))
    session.flush()
