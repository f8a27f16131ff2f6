"""Demo data of rural-rental for every village of the reference data (星火村 and the 9
demonstration villages; not villages loaded from a CSV): a committee member
(``demo-<committee code>-committee``), a landlord (``demo-resident-<3400 + i>``, a verified
residence at house 1) with a house of two rooms, inspected by the committee (twice where the
index is even: a green-card house), so its rooms are listed. Idempotent (found by village and
house number)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import as_resident, as_staff, dev_resident, staff_account
from app.places.models import Village
from app.places.seed import reference_codes
from auth.models import Residence
from auth.organisations import Organisation
from scenarios.rural_rental import CONFIG
from scenarios.rural_rental import service as svc
from scenarios.rural_rental.models import RrHouse

ROOMS = ({"label": "101", "area_m2": 18.0, "rent_fen": 90_000, "occupancy_limit": 2, "facilities": ["空调", "热水器"]},
         {"label": "201", "area_m2": 12.5, "rent_fen": 65_000, "occupancy_limit": 1, "facilities": ["空调"]})


def load(session: Session, clock: Clock) -> dict[str, int]:
    villages = session.scalars(sa.select(Village).where(Village.code.in_(list(reference_codes("villages"))))
                               .order_by(Village.code)).all()
    made = 0
    for i, village in enumerate(villages):
        if session.scalar(sa.select(RrHouse.id).where(RrHouse.village_id == village.id, RrHouse.house_number == 1)):
            continue
        committee = session.get(Organisation, village.committee_id)
        member = staff_account(session, f"demo-{committee.code}-committee", committee, "committee")
        landlord = dev_resident(session, 3400 + i)
        session.add(Residence(person_id=landlord.person_id, village_id=village.id, house_number=1,
                              valid_from=date(2020, 1, 1), status="verified"))
        session.flush()
        house = svc.register_house(session, clock=clock, principal=as_resident(landlord), data={
            "village": village.code, "house_number": 1, "address": f"{village.name}1号",
            "lat": village.lat, "lon": village.lon, "rooms": [dict(r) for r in ROOMS]})
        checklist = dict.fromkeys(svc.CHECKLIST, True)
        for _ in range(2 if i % 2 == 0 else 1):
            svc.inspect(session, clock=clock, principal=as_staff(member, committee, "committee"), config=CONFIG,
                        house=house, data={"checklist": checklist})
        made += 1
    return {"rural_rental_houses": made}
