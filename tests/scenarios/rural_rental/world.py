"""A rural-rental world: two villages (committees A and B), a landlord with a verified residence in
village A, tenants real-name verified by ID number, an unverified one."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from auth.models import Account, Residence
from tests.support.factories import id_number, make_resident, make_staff, place_world

BASE = "/api/v1/rural-rental"


@dataclass
class RrWorld:
    world: object
    accounts: dict[str, Account] = field(default_factory=dict)
    orgs: dict[str, object] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


def build(session) -> RrWorld:
    world = place_world(session)
    w = RrWorld(world)
    w.accounts["committee_a"] = make_staff(session, world.village_committees[0], "committee")
    w.orgs["committee_a"] = world.village_committees[0]
    w.accounts["committee_a2"] = make_staff(session, world.village_committees[0], "committee")
    w.orgs["committee_a2"] = world.village_committees[0]
    w.accounts["committee_b"] = make_staff(session, world.village_committees[1], "committee")
    w.orgs["committee_b"] = world.village_committees[1]
    w.accounts["landlord"] = make_resident(session, name="王房东", id_no=id_number("19600101"))
    session.add(Residence(person_id=w.accounts["landlord"].person_id, village_id=world.village.id, house_number=12,
                          valid_from=date(2020, 1, 1), status="verified"))
    w.accounts["outsider"] = make_resident(session, name="李外村", id_no=id_number("19700101"))
    for i, who in enumerate(("tenant1", "tenant2", "tenant3")):
        number = id_number(f"199{i}0101", region="510104")  # people from outside Shanghai
        w.accounts[who] = make_resident(session, name=f"租客{i}", id_no=number)
        w.ids[who] = number
    w.ids["unverified"] = id_number("19950101", region="510104")
    make_resident(session, id_no=w.ids["unverified"], level="none")
    session.commit()
    return w
