"""Staff reveals of a resident's phone / ID number: named fields only, audited with the fields,
rate-limited per staff member (whichever organisation they act for)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import AuditEntry
from auth.staff import add_membership
from tests.support.factories import bearer, count, id_number, make_resident, make_staff, place_world, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

PHONE = "18012341999"
ID_NO = id_number("19800101")


@pytest.fixture
def claim(client, session, clock):
    """A resident's claim in the managed community, and the URL of the claim for company 0."""
    world = place_world(session)
    account = make_resident(session, name="张三", id_no=ID_NO, phone=PHONE)
    session.commit()
    h = bearer(token_for(session, clock, account))
    r = client.post("/api/v1/me/residences", json={"community_code": world.community.code, "building": "1",
                                                    "room": "101"}, headers=h)
    assert r.status_code == 201, r.get_json()
    url = f"/api/v1/orgs/{world.companies[0].code}/residences/{r.get_json()['id']}/reveal"
    return world, account, url


def test_bad_field_lists_are_422_on_fields_and_not_audited(client, session, clock, claim):
    world, _account, url = claim
    manager = make_staff(session, world.companies[0], "manager")
    session.commit()
    mh = bearer(token_for(session, clock, manager, world.companies[0]))
    for body in ({"reason": "核对身份"}, {"fields": [], "reason": "核对身份"},
                 {"fields": ["name"], "reason": "核对身份"}, {"fields": ["phone", "health"], "reason": "核对身份"},
                 {"fields": "phone", "reason": "核对身份"}):
        r = client.post(url, json=body, headers=mh)
        assert r.status_code == 422, (body, r.get_json())
        assert "fields" in r.get_json()["errors"], (body, r.get_json())
        assert r.get_json()["message"]
    r = client.post(url, json={"fields": ["phone"], "reason": ""}, headers=mh)
    assert r.status_code == 422 and r.get_json()["code"] == "reason_required"
    assert count(session, AuditEntry) == 0


@pytest.mark.parametrize(("wanted", "shown", "absent"), [
    (["phone"], {"phone": PHONE}, "id_number"),
    (["id_number"], {"id_number": ID_NO}, "phone"),
    (["id_number", "phone", "phone"], {"phone": PHONE, "id_number": ID_NO}, None),
])
def test_reveal_returns_only_the_named_fields_and_audits_them(client, session, clock, claim, wanted, shown, absent):
    world, account, url = claim
    manager = make_staff(session, world.companies[0], "manager")
    session.commit()
    mh = bearer(token_for(session, clock, manager, world.companies[0]))
    r = client.post(url, json={"fields": wanted, "reason": "核对租户身份"}, headers=mh)
    assert r.status_code == 200, r.get_json()
    resident = r.get_json()["resident"]
    for field, value in shown.items():
        assert resident[field] == value
    if absent:
        assert absent not in resident
    assert resident["name"] == "张*"  # the name is never part of a reveal
    entry = session.scalar(sa.select(AuditEntry))
    assert entry.fields == sorted(shown) and entry.subject_person_id == account.person_id
    assert entry.actor_account_id == manager.id and entry.acting_org_id == world.companies[0].id
    assert entry.reason == "核对租户身份" and entry.at == clock.now()


def test_reveals_are_limited_per_staff_member_across_organisations(client, session, clock, claim, settings_override):
    settings_override(RATELIMIT_REVEAL="2/hour")
    world, _account, url = claim
    both = make_staff(session, world.companies[0], "manager")
    add_membership(session, account=both, org=world.committees[0], role="committee")
    colleague = make_staff(session, world.companies[0], "manager")
    session.commit()
    as_company = bearer(token_for(session, clock, both, world.companies[0]))
    as_committee = bearer(token_for(session, clock, both, world.committees[0]))
    committee_url = url.replace(world.companies[0].code, world.committees[0].code)
    body = {"fields": ["phone"], "reason": "核对租户身份"}
    assert client.post(url, json=body, headers=as_company).status_code == 200
    assert client.post(committee_url, json=body, headers=as_committee).status_code == 200
    for h, u in ((as_company, url), (as_committee, committee_url)):
        r = client.post(u, json=body, headers=h)
        assert r.status_code == 429 and r.get_json()["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) > 0 and r.get_json()["request_id"]
    assert count(session, AuditEntry) == 2  # a refused reveal reads nothing
    other = client.post(url, json=body, headers=bearer(token_for(session, clock, colleague, world.companies[0])))
    assert other.status_code == 200
