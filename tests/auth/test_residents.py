"""The resident's own data: /me, residences (claim and review), relations, cancellation."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import Account, AuditEntry, Person, PersonRelation, RefreshToken, Residence
from auth.relations import may_act_for
from auth.signals import person_erased
from tests.support.factories import bearer, count, id_number, make_resident, make_staff, place_world, token_for

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


@pytest.fixture
def world(session):
    w = place_world(session)
    session.commit()
    return w


@pytest.fixture
def resident(session, clock):
    account = make_resident(session, name="张三", id_no=id_number("19800101"), phone="18012341999")
    session.commit()
    return account, bearer(token_for(session, clock, account))


# ---------------------------------------------------------------- /me


def test_me_is_masked(client, resident):
    _account, h = resident
    body = client.get("/api/v1/me", headers=h).get_json()
    assert body["name"] == "张*" and body["phone"] == "180****1999"
    assert body["id_number"].startswith("3" + "*" * 15) and len(body["id_number"]) == 18
    assert body["real_name_level"] == "basic" and body["birth_date"] == "1980-01-01"


def test_patch_me(client, session, clock):
    account = make_resident(session)
    session.commit()
    h = bearer(token_for(session, clock, account))
    for payload, code, field in [
        ({"phone": "12345678901"}, "mobile_invalid", "phone"),
        ({"phone": "1801234199"}, "mobile_invalid", "phone"),
        ({"id_number": "310116198001011231"}, "id_number_invalid", "id_number"),
        ({"id_number": "310116198002301234"}, "id_number_invalid", "id_number"),
        ({"name": "张3"}, "validation_error", "name"),
        ({"nickname": "x"}, "validation_error", "nickname"),
    ]:
        r = client.patch("/api/v1/me", json=payload, headers=h)
        assert r.status_code == 422 and r.get_json()["code"] == code, payload
        assert field in r.get_json()["errors"], payload
    r = client.patch("/api/v1/me", json={"phone": "13912345678", "name": "李四", "id_number": id_number("19900909")},
                     headers=h)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["phone"] == "139****5678" and r.get_json()["real_name_level"] == "basic"
    assert r.get_json()["birth_date"] == "1990-09-09"
    taken = make_resident(session, name="王五", id_no=id_number("19700707", seq="777"))
    session.commit()
    session.refresh(taken.person)
    r = client.patch("/api/v1/me", json={"id_number": taken.person.id_number}, headers=h)
    assert r.status_code == 200  # a number on record is not refused (tests/auth/test_relations.py: oracles)


def test_verified_identity_is_locked(client, session, clock):
    account = make_resident(session, name="赵六", id_no=id_number(), level="verified")
    session.commit()
    h = bearer(token_for(session, clock, account))
    r = client.patch("/api/v1/me", json={"name": "别人"}, headers=h)
    assert r.status_code == 409 and r.get_json()["code"] == "identity_locked"
    assert client.patch("/api/v1/me", json={"phone": "13912345678"}, headers=h).status_code == 200


# ---------------------------------------------------------------- residences


def claim(client, h, **body):
    return client.post("/api/v1/me/residences", json=body, headers=h)


def test_claim_validation(client, world, resident):
    _, h = resident
    code = world.community.code
    cases = [
        ({"community_code": "nowhere", "building": "1", "room": "101"}, 422, "place_not_found", "community_code"),
        ({"community_code": code, "building": "9", "room": "101"}, 422, "room_not_found", "building"),
        ({"community_code": code, "building": "1", "room": "1905"}, 422, "room_not_found", "room"),
        ({"community_code": code, "building": "1", "room": "1901"}, 422, "room_not_found", "room"),  # 18 floors
        ({"community_code": code, "building": "1", "room": "B12"}, 422, "room_not_found", "room"),
        ({"community_code": code, "building": "1"}, 422, "validation_error", "room"),
        ({"village_code": world.village.code, "house_number": 201}, 422, "room_not_found", "house_number"),
        ({"village_code": "no-village", "house_number": 1}, 422, "place_not_found", "village_code"),
        ({"community_code": code, "building": "1", "room": "101", "village_code": world.village.code},
         422, "validation_error", "village_code"),
        ({}, 422, "validation_error", "community_code"),
    ]
    for body, status, err, field in cases:
        r = claim(client, h, **body)
        assert (r.status_code, r.get_json()["code"]) == (status, err), body
        assert field in r.get_json()["errors"], body


def test_claim_and_review_community(client, session, clock, world, resident):
    _account, h = resident
    r = claim(client, h, community_code=world.community.code, building="1", room="1203")
    assert r.status_code == 201, r.get_json()
    res = r.get_json()
    assert res["status"] == "claimed" and res["room"] == "1203" and res["community_code"] == world.community.code
    dup = claim(client, h, community_code=world.community.code, building="1", room="1203")
    assert dup.status_code == 409 and dup.get_json()["code"] == "residence_exists"
    assert client.get("/api/v1/me/residences", headers=h).get_json()["items"][0]["id"] == res["id"]

    manager = make_staff(session, world.companies[0], "manager")
    technician = make_staff(session, world.companies[0], "technician")
    other = make_staff(session, world.companies[1], "manager")
    committee = make_staff(session, world.committees[0], "committee")
    other_committee = make_staff(session, world.committees[1], "committee")
    session.commit()

    def url(org, suffix=""):
        return f"/api/v1/orgs/{org.code}/residences{suffix}"

    def h_of(acc, org):
        return bearer(token_for(session, clock, acc, org))

    listing = client.get(url(world.companies[0]) + "?status=claimed", headers=h_of(manager, world.companies[0]))
    assert listing.status_code == 200
    items = listing.get_json()["items"]
    assert [i["id"] for i in items] == [res["id"]]
    assert items[0]["resident"]["name"] == "张*" and items[0]["resident"]["phone"] == "180****1999"
    assert client.get(url(world.companies[1]), headers=h_of(other, world.companies[1])).get_json()["total"] == 0
    assert client.get(url(world.committees[0]), headers=h_of(committee, world.committees[0])).get_json()["total"] == 1
    # Another company's manager: the claim is not visible there; through our URL, not a member.
    r = client.post(url(world.companies[1], f"/{res['id']}/review"), json={"decision": "verify"},
                    headers=h_of(other, world.companies[1]))
    assert r.status_code == 404
    r = client.post(url(world.companies[0], f"/{res['id']}/review"), json={"decision": "verify"},
                    headers=h_of(other, world.companies[1]))
    assert r.status_code == 404
    r = client.get(url(world.committees[1], f"/{res['id']}"), headers=h_of(other_committee, world.committees[1]))
    assert r.status_code == 404
    r = client.post(url(world.companies[0], f"/{res['id']}/review"), json={"decision": "verify"},
                    headers=h_of(technician, world.companies[0]))
    assert r.status_code == 403 and r.get_json()["code"] == "forbidden"
    r = client.post(url(world.companies[0], f"/{res['id']}/review"), json={"decision": "maybe"},
                    headers=h_of(manager, world.companies[0]))
    assert r.status_code == 422
    r = client.post(url(world.companies[0], f"/{res['id']}/review"), json={"decision": "verify", "note": "已核对"},
                    headers=h_of(manager, world.companies[0]))
    assert r.status_code == 200 and r.get_json()["status"] == "verified"
    again = client.post(url(world.committees[0], f"/{res['id']}/review"), json={"decision": "reject"},
                        headers=h_of(committee, world.committees[0]))
    assert again.status_code == 409 and again.get_json()["code"] == "residence_already_reviewed"
    session.expire_all()
    row = session.get(Residence, res["id"])
    assert row.reviewed_by_org_id == world.companies[0].id and row.reviewed_by_account_id == manager.id

    ended = client.delete(f"/api/v1/me/residences/{res['id']}", headers=h)
    assert ended.status_code == 200 and ended.get_json()["status"] == "ended" and ended.get_json()["valid_to"]


def test_unmanaged_community_and_villages(client, session, clock, world, resident):
    _, h = resident
    r1 = claim(client, h, community_code=world.unmanaged.code, building="1", room="101").get_json()
    r2 = claim(client, h, village_code=world.village.code, house_number=12).get_json()
    r3 = claim(client, h, village_code=world.village2.code, house_number=3).get_json()
    housing = make_staff(session, world.housing_office, "manager")
    v1 = make_staff(session, world.village_committees[0], "committee")
    v2 = make_staff(session, world.village_committees[1], "committee")
    session.commit()
    seen = client.get(f"/api/v1/orgs/{world.housing_office.code}/residences",
                      headers=bearer(token_for(session, clock, housing, world.housing_office))).get_json()
    assert [i["id"] for i in seen["items"]] == [r1["id"]]
    h1 = bearer(token_for(session, clock, v1, world.village_committees[0]))
    h2 = bearer(token_for(session, clock, v2, world.village_committees[1]))
    assert [i["id"] for i in client.get(f"/api/v1/orgs/{world.village_committees[0].code}/residences",
                                        headers=h1).get_json()["items"]] == [r2["id"]]
    url = f"/api/v1/orgs/{world.village_committees[1].code}/residences/{r2['id']}/review"
    assert client.post(url, json={"decision": "verify"}, headers=h2).status_code == 404
    url = f"/api/v1/orgs/{world.village_committees[1].code}/residences/{r3['id']}/review"
    r = client.post(url, json={"decision": "reject", "note": "查无此人"}, headers=h2)
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    assert r.get_json()["village_code"] == world.village2.code and r.get_json()["house_number"] == 3


def test_reveal_is_audited_and_admin_reads_the_audit(client, session, clock, world, resident):
    account, h = resident
    res = claim(client, h, community_code=world.community.code, building="1", room="101").get_json()
    manager = make_staff(session, world.companies[0], "manager")
    admin = make_staff(session, world.district, "admin")
    session.commit()
    mh = bearer(token_for(session, clock, manager, world.companies[0]))
    url = f"/api/v1/orgs/{world.companies[0].code}/residences/{res['id']}"
    masked = client.get(url, headers=mh).get_json()
    assert masked["resident"]["id_number"].count("*") == 15
    assert count(session, AuditEntry) == 0
    r = client.post(url + "/reveal", json={"fields": ["phone", "id_number"], "reason": "核对租户身份"}, headers=mh)
    assert r.status_code == 200
    assert r.get_json()["resident"]["phone"] == "18012341999"
    entry = session.scalar(sa.select(AuditEntry))
    assert entry.actor_account_id == manager.id and entry.acting_org_id == world.companies[0].id
    assert entry.subject_person_id == account.person_id and entry.reason == "核对租户身份"
    assert sorted(entry.fields) == ["id_number", "phone"] and entry.at == clock.now()

    ah = bearer(token_for(session, clock, admin, world.district))
    audit = client.get(f"/api/v1/admin/audit?subject_person_id={account.person_id}", headers=ah)
    assert audit.status_code == 200, audit.get_json()
    item = audit.get_json()["items"][0]
    assert item["actor_account_id"] == manager.id and item["fields"] == ["id_number", "phone"]
    assert audit.get_json()["total"] == 1
    assert client.get("/api/v1/admin/audit?subject_person_id=999999", headers=ah).get_json()["total"] == 0
    assert client.get("/api/v1/admin/audit", headers=mh).status_code == 403
    assert client.get("/api/v1/admin/audit", headers=h).status_code == 403
    assert client.get("/api/v1/admin/audit").status_code == 401


# ---------------------------------------------------------------- relations


def relate(client, h, **body):
    body.setdefault("kind", "family")
    body.setdefault("allows", ["book_medical"])
    return client.post("/api/v1/me/relations", json=body, headers=h)


def test_relations(client, session, clock, resident):
    """The basics; confirmation and the identity oracles: tests/auth/test_relations.py."""
    account, h = resident
    mother_id = id_number("19450301")
    r = relate(client, h, name="王秀英", id_number=mother_id)
    assert r.status_code == 201, r.get_json()
    rel = r.get_json()
    assert rel["direction"] == "outgoing" and rel["person"]["name"] == "王**"
    assert set(rel["person"]) == {"name", "id_number"}  # no person id, no word of an account
    assert rel["allows"] == ["book_medical"] and rel["status"] == "pending" and rel["verified"] is False
    mother = session.scalar(sa.select(Person).where(Person.id_number_hash == Person.id_number_lookup(mother_id)))
    assert mother is not None and mother.birth_date.year == 1945
    assert not may_act_for(session, account.person_id, mother.id, "book_medical")  # pending grants nothing
    assert may_act_for(session, mother.id, mother.id, "pay")

    dup = relate(client, h, name="王秀英", id_number=mother_id)
    assert dup.status_code == 409 and dup.get_json()["code"] == "relation_exists"
    assert relate(client, h, name="王秀英", id_number=mother_id, kind="guardian").status_code == 201
    listing = client.get("/api/v1/me/relations", headers=h).get_json()["items"]
    assert len(listing) == 2
    # The other side (once they have an account) sees it as incoming and may end it.
    mother_account = Account(kind="wechat", openid="o-mother", person_id=mother.id, status="active")
    session.add(mother_account)
    session.commit()
    mh = bearer(token_for(session, clock, mother_account))
    incoming = client.get("/api/v1/me/relations", headers=mh).get_json()["items"]
    assert {i["direction"] for i in incoming} == {"incoming"} and incoming[0]["person"]["name"] == "张*"
    assert client.delete(f"/api/v1/me/relations/{rel['id']}", headers=mh).status_code == 204
    stranger = make_resident(session)
    session.commit()
    sh = bearer(token_for(session, clock, stranger))
    assert client.delete(f"/api/v1/me/relations/{listing[1]['id']}", headers=sh).status_code == 404


def test_relation_bad_input(client, session, clock, resident):
    account, h = resident
    session.refresh(account.person)
    own = account.person.id_number
    r = relate(client, h, name="张三", id_number=own)
    assert r.status_code == 422 and r.get_json()["code"] == "relation_to_self"
    r = relate(client, h, name="张三", id_number=own.lower())
    assert r.get_json()["code"] == "relation_to_self"
    r = relate(client, h, name="某人", id_number="310116194503011234")
    assert r.status_code == 422 and r.get_json()["code"] == "id_number_invalid"
    assert "id_number" in r.get_json()["errors"]
    r = relate(client, h, name="某人", id_number=id_number(), allows=["rule_the_world"])
    assert r.status_code == 422 and r.get_json()["code"] == "validation_error"
    r = relate(client, h, name="某人", id_number=id_number(), kind="boss")
    assert r.status_code == 422
    anonymous_person = make_resident(session)
    session.commit()
    r = relate(client, bearer(token_for(session, clock, anonymous_person)), name="某人", id_number=id_number())
    assert r.status_code == 403 and r.get_json()["code"] == "real_name_required"


# ---------------------------------------------------------------- cancellation


def test_delete_me_erases_and_revokes(client, session, clock, world):
    login = client.post("/api/v1/auth/dev/login", json={"openid": "to-cancel"}).get_json()
    h = bearer(login["access_token"])
    assert client.patch("/api/v1/me", json={"name": "钱七", "id_number": id_number("19880808"),
                                            "phone": "13912340000"}, headers=h).status_code == 200
    child_id = id_number("20180101")
    assert relate(client, h, name="钱小七", id_number=child_id, kind="guardian", allows=["act_all"]).status_code == 201
    res = claim(client, h, community_code=world.community.code, building="1", room="101").get_json()
    person_id = login["resident"]["id"]
    erased = []

    def listener(sender, session, person_id):
        erased.append(person_id)

    person_erased.connect(listener)
    try:
        r = client.delete("/api/v1/me", headers=h)
    finally:
        person_erased.disconnect(listener)
    assert r.status_code == 204 and erased == [person_id]
    assert client.get("/api/v1/me", headers=h).get_json()["code"] == "token_revoked"
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert r.status_code == 401
    session.expire_all()
    person = session.get(Person, person_id)
    assert person.anonymised_at is not None
    assert (person.name, person.id_number, person.phone, person.birth_date) == (None, None, None, None)
    raw = session.execute(sa.text("SELECT name, id_number, phone, id_number_hash, phone_hash, claimed_id_number "
                                  "FROM persons WHERE id = :id"), {"id": person_id}).one()
    assert set(raw) == {None}
    account = session.get(Account, login["resident"]["account_id"])
    assert account.status == "deleted" and account.openid is None
    assert count(session, RefreshToken, RefreshToken.account_id == account.id, RefreshToken.revoked_at.is_(None)) == 0
    assert count(session, PersonRelation) == 0
    child = session.scalar(sa.select(Person).where(Person.name.is_(None), Person.anonymised_at.is_not(None),
                                                   Person.id != person_id))
    assert child is not None  # the child existed only through this relation
    assert session.get(Residence, res["id"]).status == "ended"
    # Logging in again with the same openid starts afresh.
    again = client.post("/api/v1/auth/dev/login", json={"openid": "to-cancel"}).get_json()
    assert again["resident"]["id"] != person_id and again["resident"]["real_name_level"] == "none"
