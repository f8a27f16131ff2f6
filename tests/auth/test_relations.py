"""Relations (auth/relations.py) and the identity oracles of issue 13.

Adding a relation by name and ID number, and claiming an ID number in ``PATCH /me``, answer
the same for a match, a mismatch and a stranger. A relation grants nothing until confirmed:
by the adult it is about (in the app), or for someone without an account by their committee
or in person; the requester is told either way."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from auth.models import Account, AuditEntry, Person, PersonRelation, Residence
from auth.relations import may_act_for
from tests.support.database import statements
from tests.support.factories import bearer, id_number, make_resident, make_staff, place_world, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


@pytest.fixture
def world(session):
    w = place_world(session)
    session.commit()
    return w


@pytest.fixture
def requester(client, session, clock, world):
    """张三, living (claimed) in world.community: committees[0], companies[0] in charge."""
    account = make_resident(session, name="张三", id_no=id_number("19800101"), phone="18012341999")
    session.commit()
    h = bearer(token_for(session, clock, account))
    r = client.post("/api/v1/me/residences", json={"community_code": world.community.code, "building": "1",
                                                    "room": "101"}, headers=h)
    assert r.status_code == 201
    return account, h


def relate(client, h, name, number, **body):
    body = {"name": name, "id_number": number, "kind": "family", "allows": ["book_medical"], **body}
    return client.post("/api/v1/me/relations", json=body, headers=h)


def told(session, relation_id: int) -> list[tuple[str, str, dict]]:
    session.expire_all()
    rows = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.event_key.like(f"relation:{relation_id}:%"))
                           .order_by(OutboxMessage.id))
    return [(m.template, m.recipient_id, m.payload) for m in rows]


def shape(value):
    """The body with what differs by nature (ids, times, the digits of a number) blanked."""
    if isinstance(value, dict):
        return {k: ("<id>" if k in ("id", "account_id", "created_at") else shape(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"[0-9X]", "d", value)
    return value


# ---------------------------------------------------------------- oracles


def test_adding_a_relation_answers_alike_for_match_mismatch_and_stranger(client, session, clock, requester):
    account, h = requester
    with_account = make_resident(session, name="李桂兰", id_no=id_number("19500505"))  # an adult with an account
    other_name = make_resident(session, name="周建国", id_no=id_number("19520606"))  # on record, another name
    no_account = Person(name="李秀英", real_name_level="basic")  # on record, no account
    no_account.set_id_number(id_number("19400404"))
    session.add(no_account)
    session.commit()
    session.refresh(with_account.person)
    session.refresh(other_name.person)
    stranger_number = id_number("19480808")
    cases = {
        "match": ("李桂兰", with_account.person.id_number),
        "mismatch": ("李建华", other_name.person.id_number),
        "no_account": ("李秀英", no_account.id_number),
        "stranger": ("李淑珍", stranger_number),
    }
    answers, counts = {}, {}
    for case, (name, number) in cases.items():
        with statements(session) as seen:
            r = relate(client, h, name, number)
        answers[case], counts[case] = r, len(seen)
    first = answers["match"]
    for case, r in answers.items():
        assert r.status_code == 201, (case, r.get_json())
        assert sorted(r.headers.keys()) == sorted(first.headers.keys()), case
        assert shape(r.get_json()) == shape(first.get_json()), case
        body = r.get_json()
        assert body["status"] == "pending" and body["person"]["name"] == "李**", case  # what was typed
    # The same work whoever it is (no provider call, no hash only one branch pays): the
    # statement counts differ by at most the notification (2) or the new person (1).
    assert max(counts.values()) - min(counts.values()) <= 3, counts
    listing = client.get("/api/v1/me/relations", headers=h).get_json()["items"]
    assert len({str(shape(i)) for i in listing}) == 1
    # Behind the one answer: the adult with an account is asked, the others are not; a person is
    # created only for the stranger; nobody may act for anyone yet.
    ids = {case: r.get_json()["id"] for case, r in answers.items()}
    assert [(t, rid) for t, rid, _ in told(session, ids["match"])] == [("relation_requested", str(with_account.id))]
    assert [(t, rid) for t, rid, _ in told(session, ids["mismatch"])] == [("relation_requested", str(other_name.id))]
    assert told(session, ids["no_account"]) == [] and told(session, ids["stranger"]) == []
    assert told(session, ids["match"])[0][2]["requester"] == "张*"
    created = session.scalar(sa.select(Person).where(Person.id_number_hash == Person.id_number_lookup(stranger_number)))
    assert created is not None and created.name == "李淑珍"
    mismatch = session.get(PersonRelation, ids["mismatch"])
    assert mismatch.to_person_id == other_name.person_id and mismatch.claimed_name == "李建华"
    for case in cases:
        relation = session.get(PersonRelation, ids[case])
        assert not may_act_for(session, account.person_id, relation.to_person_id, "book_medical"), case


def test_claiming_an_id_number_in_patch_me_answers_alike(client, session, clock):
    holder = make_resident(session, name="王芳", id_no=id_number("19700707"))
    other = make_resident(session, name="孙强", id_no=id_number("19710808"))
    callers = [make_resident(session) for _ in range(3)]
    session.commit()
    session.refresh(holder.person)
    session.refresh(other.person)
    held_by_holder, held_by_other = holder.person.id_number, other.person.id_number
    free = id_number("19720909")
    cases = [("王芳", held_by_holder), ("王丽", held_by_other), ("王敏", free)]  # match, mismatch, stranger
    answers, reads = [], []
    for caller, (name, number) in zip(callers, cases, strict=True):
        h = bearer(token_for(session, clock, caller))
        answers.append(client.patch("/api/v1/me", json={"name": name, "id_number": number}, headers=h))
        reads.append(client.get("/api/v1/me", headers=h).get_json())
    for r in answers:
        assert r.status_code == 200, r.get_json()
        assert sorted(r.headers.keys()) == sorted(answers[0].headers.keys())
    # Apart from the number itself (its birth date), the answers and later reads are alike.
    assert len({str(shape({k: v for k, v in r.get_json().items() if k != "birth_date"})) for r in answers}) == 1
    assert len({str(shape({k: v for k, v in b.items() if k != "birth_date"})) for b in reads}) == 1
    for (_, number), r, read in zip(cases, answers, reads, strict=True):
        body = r.get_json()
        assert body["real_name_level"] == "basic" and body["id_number"].endswith(number[-2:])
        assert body["birth_date"] == f"{number[6:10]}-{number[10:12]}-{number[12:14]}" and read == body
    # The holders keep their numbers; the claims hold nobody's.
    session.expire_all()
    assert session.get(Person, holder.person_id).id_number == held_by_holder
    assert session.get(Person, callers[0].person_id).id_number is None
    assert session.get(Person, callers[0].person_id).claimed_id_number == held_by_holder
    assert session.get(Person, callers[2].person_id).id_number == free
    # Relating to one's own claimed number is "oneself", as for a free number: no oracle there either.
    for caller, (_, number) in zip(callers, cases, strict=True):
        h = bearer(token_for(session, clock, caller))
        r = relate(client, h, "某人", number)
        assert r.status_code == 422 and r.get_json()["code"] == "relation_to_self"


# ---------------------------------------------------------------- the adult confirms


@pytest.fixture
def asked(client, session, clock, requester):
    """张三 asks to act for 李桂兰, an adult with an account."""
    account, h = requester
    adult = make_resident(session, name="李桂兰", id_no=id_number("19500505"))
    session.commit()
    session.refresh(adult.person)
    r = relate(client, h, "李桂兰", adult.person.id_number, allows=["book_medical", "pay"])
    assert r.status_code == 201
    return account, adult, r.get_json()["id"], bearer(token_for(session, clock, adult))


def test_a_pending_relation_grants_nothing_until_the_adult_confirms(client, session, clock, asked):
    account, adult, rid, ah = asked
    assert not may_act_for(session, account.person_id, adult.person_id, "book_medical")
    pending = client.get("/api/v1/me/relations/pending", headers=ah).get_json()["items"]
    assert [(i["id"], i["direction"], i["person"]["name"], i["status"]) for i in pending] == \
        [(rid, "incoming", "张*", "pending")]
    r = client.post(f"/api/v1/me/relations/{rid}/confirm", headers=ah)
    assert r.status_code == 200 and r.get_json()["status"] == "confirmed" and r.get_json()["decided_at"]
    session.expire_all()
    assert may_act_for(session, account.person_id, adult.person_id, "book_medical")
    assert may_act_for(session, account.person_id, adult.person_id, "pay")
    assert not may_act_for(session, account.person_id, adult.person_id, "view_medical")
    assert not may_act_for(session, adult.person_id, account.person_id, "book_medical")  # one way only
    relation = session.get(PersonRelation, rid)
    assert (relation.decided_via, relation.decided_by_account_id) == ("subject", adult.id)
    decided = [(t, who, p["outcome"]) for t, who, p in told(session, rid) if t == "relation_decided"]
    assert decided == [("relation_decided", str(account.id), "已确认")]
    assert client.get("/api/v1/me/relations/pending", headers=ah).get_json()["items"] == []
    again = client.post(f"/api/v1/me/relations/{rid}/decline", headers=ah)
    assert again.status_code == 409 and again.get_json()["code"] == "relation_not_pending"


def test_the_adult_may_decline(client, session, clock, asked):
    account, adult, rid, ah = asked
    r = client.post(f"/api/v1/me/relations/{rid}/decline", headers=ah)
    assert r.status_code == 200 and r.get_json()["status"] == "declined"
    session.expire_all()
    assert not may_act_for(session, account.person_id, adult.person_id, "book_medical")
    decided = [(t, who, p["outcome"]) for t, who, p in told(session, rid) if t == "relation_decided"]
    assert decided == [("relation_decided", str(account.id), "未通过")]
    mine = client.get("/api/v1/me/relations", headers=bearer(token_for(session, clock, account))).get_json()
    assert [i["status"] for i in mine["items"]] == ["declined"]


def test_only_the_adult_may_confirm(client, session, clock, asked, world):
    account, adult, rid, _ah = asked
    other = make_resident(session, name="赵六", id_no=id_number())
    committee = make_staff(session, world.committees[0], "committee")
    session.commit()
    oh = bearer(token_for(session, clock, other))
    for verb in ("confirm", "decline"):
        r = client.post(f"/api/v1/me/relations/{rid}/{verb}", headers=oh)
        assert r.status_code == 404 and r.get_json()["code"] == "not_found"  # not theirs to see
        mine = client.post(f"/api/v1/me/relations/{rid}/{verb}", headers=bearer(token_for(session, clock, account)))
        assert mine.status_code == 403  # the requester sees it but may not answer for the other
    # Nor may the committee or staff in person: this one waits for the adult.
    ch = bearer(token_for(session, clock, committee, world.committees[0]))
    base = f"/api/v1/orgs/{world.committees[0].code}/relations"
    assert client.get(base, headers=ch).get_json()["items"] == []
    r = client.post(f"{base}/{rid}/verify", json={"decision": "confirm", "reason": "认识这家人"}, headers=ch)
    assert r.status_code == 404
    r = client.post(f"{base}/{rid}/confirm-in-person", json={"name": "李桂兰", "id_number": adult.person.id_number},
                    headers=ch)
    assert r.status_code == 404
    session.expire_all()
    assert session.get(PersonRelation, rid).status == "pending"


def test_a_child_with_an_account_is_not_asked(client, session, clock, requester):
    _account, h = requester
    child = make_resident(session, name="张小明", id_no=id_number("20150101"))
    session.commit()
    session.refresh(child.person)
    rid = relate(client, h, "张小明", child.person.id_number, kind="guardian").get_json()["id"]
    assert told(session, rid) == []
    r = client.post(f"/api/v1/me/relations/{rid}/confirm", headers=bearer(token_for(session, clock, child)))
    assert r.status_code == 403 and r.get_json()["code"] == "relation_confirmed_by_committee"


# ---------------------------------------------------------------- committees and in person


@pytest.fixture
def parent(client, session, requester):
    """张三 asks to act for his mother, over 80, who has no account and no residence on record."""
    account, h = requester
    number = id_number("19400303")
    rid = relate(client, h, "王秀英", number, allows=["act_all"]).get_json()["id"]
    return account, rid, number


def test_the_committee_verifies_for_a_parent_without_an_account(client, session, clock, world, parent):
    account, rid, _number = parent
    committee = make_staff(session, world.committees[0], "committee")
    far = make_staff(session, world.committees[1], "committee")  # another town
    company = make_staff(session, world.companies[0], "manager")
    session.commit()
    ch = bearer(token_for(session, clock, committee, world.committees[0]))
    base = f"/api/v1/orgs/{world.committees[0].code}/relations"
    listed = client.get(base, headers=ch).get_json()["items"]
    assert [(i["id"], i["subject"]["name"], i["requester"]["name"], i["name_matches"]) for i in listed] == \
        [(rid, "王**", "张*", True)]
    far_h = bearer(token_for(session, clock, far, world.committees[1]))
    far_base = f"/api/v1/orgs/{world.committees[1].code}/relations"
    assert client.get(far_base, headers=far_h).get_json()["items"] == []
    body = {"decision": "confirm", "reason": "居委会走访核实"}
    assert client.post(f"{far_base}/{rid}/verify", json=body, headers=far_h).status_code == 404
    company_h = bearer(token_for(session, clock, company, world.companies[0]))
    company_url = f"/api/v1/orgs/{world.companies[0].code}/relations/{rid}/verify"
    assert client.post(company_url, json=body, headers=company_h).status_code == 403  # not a committee
    r = client.post(f"{base}/{rid}/verify", json={"decision": "confirm", "reason": ""}, headers=ch)
    assert r.status_code == 422 and r.get_json()["code"] == "reason_required"
    session.expire_all()
    assert session.get(PersonRelation, rid).status == "pending"
    mother_id = session.get(PersonRelation, rid).to_person_id
    assert not may_act_for(session, account.person_id, mother_id, "book_medical")

    r = client.post(f"{base}/{rid}/verify", json=body, headers=ch)
    assert r.status_code == 200 and r.get_json()["status"] == "confirmed" and r.get_json()["decided_via"] == "committee"
    session.expire_all()
    assert may_act_for(session, account.person_id, mother_id, "book_medical")
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.subject_person_id == mother_id))
    assert (entry.action, entry.actor_account_id, entry.acting_org_id, entry.reason) == \
        ("decide_relation", committee.id, world.committees[0].id, "居委会走访核实")
    assert [(t, who) for t, who, _ in told(session, rid)] == [("relation_decided", str(account.id))]
    assert client.get(base, headers=ch).get_json()["items"] == []  # pending only by default
    assert [i["id"] for i in client.get(base + "?status=confirmed", headers=ch).get_json()["items"]] == [rid]


def test_the_committee_of_where_the_person_lives_decides(client, session, clock, world, parent):
    """A subject with a residence on record belongs to that place's committee, not the requester's."""
    _account, rid, _number = parent
    mother_id = session.get(PersonRelation, rid).to_person_id
    building_id = session.scalar(sa.text("SELECT id FROM buildings WHERE community_id = :c LIMIT 1"),
                                 {"c": world.community2.id})
    session.add(Residence(person_id=mother_id, community_id=world.community2.id, building_id=building_id,
                          room="101", valid_from=clock.now().date(), status="verified"))
    near = make_staff(session, world.committees[0], "committee")
    there = make_staff(session, world.committees[1], "committee")
    session.commit()
    body = {"decision": "decline", "reason": "查无此亲属关系"}
    near_url = f"/api/v1/orgs/{world.committees[0].code}/relations/{rid}/verify"
    there_url = f"/api/v1/orgs/{world.committees[1].code}/relations/{rid}/verify"
    nh = bearer(token_for(session, clock, near, world.committees[0]))
    assert client.post(near_url, json=body, headers=nh).status_code == 404
    r = client.post(there_url, json=body, headers=bearer(token_for(session, clock, there, world.committees[1])))
    assert r.status_code == 200 and r.get_json()["status"] == "declined"
    assert [p["outcome"] for _, _, p in told(session, rid)] == ["未通过"]


def test_a_typed_name_not_on_record_is_not_confirmed_by_the_committee(client, session, clock, world, requester):
    _account, h = requester
    mother = Person(name="王秀英", real_name_level="basic")
    mother.set_id_number(id_number("19410101"))
    session.add(mother)
    committee = make_staff(session, world.committees[0], "committee")
    session.commit()
    rid = relate(client, h, "王秀兰", mother.id_number).get_json()["id"]
    ch = bearer(token_for(session, clock, committee, world.committees[0]))
    url = f"/api/v1/orgs/{world.committees[0].code}/relations"
    assert [i["name_matches"] for i in client.get(url, headers=ch).get_json()["items"]] == [False]
    r = client.post(f"{url}/{rid}/verify", json={"decision": "confirm", "reason": "走访"}, headers=ch)
    assert r.status_code == 422 and r.get_json()["code"] == "relation_identity_mismatch"
    session.expire_all()
    assert session.get(PersonRelation, rid).status == "pending"


def test_staff_confirm_in_person_with_the_id_card(client, session, clock, world, parent):
    account, rid, number = parent
    manager = make_staff(session, world.companies[0], "manager")
    other_company = make_staff(session, world.companies[1], "manager")
    session.commit()
    mh = bearer(token_for(session, clock, manager, world.companies[0]))
    url = f"/api/v1/orgs/{world.companies[0].code}/relations/{rid}/confirm-in-person"
    wrong_number = id_number("19400303")
    while wrong_number == number:
        wrong_number = id_number("19400303")
    for card in ({"name": "王秀英", "id_number": wrong_number}, {"name": "王秀兰", "id_number": number}):
        r = client.post(url, json=card, headers=mh)
        assert r.status_code == 422 and r.get_json()["code"] == "relation_identity_mismatch", card
    r = client.post(url, json={"name": "王秀英", "id_number": "310116194003031234"}, headers=mh)
    assert r.status_code == 422 and "id_number" in r.get_json()["errors"]
    other_url = f"/api/v1/orgs/{world.companies[1].code}/relations/{rid}/confirm-in-person"
    r = client.post(other_url, json={"name": "王秀英", "id_number": number},
                    headers=bearer(token_for(session, clock, other_company, world.companies[1])))
    assert r.status_code == 404
    session.expire_all()
    assert session.get(PersonRelation, rid).status == "pending"
    r = client.post(url, json={"name": "王秀英", "id_number": number.lower()}, headers=mh)
    assert r.status_code == 200 and r.get_json()["decided_via"] == "in_person"
    session.expire_all()
    relation = session.get(PersonRelation, rid)
    assert relation.status == "confirmed" and relation.decided_by_org_id == world.companies[0].id
    assert may_act_for(session, account.person_id, relation.to_person_id, "pay")
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.subject_person_id == relation.to_person_id))
    assert entry.action == "confirm_relation_in_person" and entry.fields == ["id_number", "name"]
    assert [(t, who) for t, who, _ in told(session, rid)] == [("relation_decided", str(account.id))]
    assert client.post(url, json={"name": "王秀英", "id_number": number}, headers=mh).status_code == 409
    assert session.scalar(sa.select(sa.func.count()).select_from(Account)
                          .where(Account.person_id == relation.to_person_id)) == 0
