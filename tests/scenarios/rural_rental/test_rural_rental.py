"""rural-rental through HTTP: houses registered by villagers only, inspected by their own
village's committee only (another committee: 404), rooms listed once passed (green after two
passes), 租前审批 on the approval engine with the occupancy limit at every moment of the period,
current tenants masked; bad input each a clear 4xx."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tests.scenarios.rural_rental.world import BASE, build
from tests.support.factories import bearer, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
OK = {k: True for k in ("extinguisher", "smoke_alarm", "wiring", "gas", "escape_route", "area_and_occupancy")}
_keys = iter(range(10**6))


@pytest.fixture
def w(app, session, clock):
    clock.set(clock.now().replace(year=2026, month=3, day=2, hour=2, minute=0))
    return build(session)


def h(w, session, clock, who):
    return {**bearer(token_for(session, clock, w.accounts[who], w.orgs.get(who))),
            "Idempotency-Key": f"rr-key-{next(_keys):06d}"}


def house_body(w, **over):
    data = {"village": w.world.village.code, "house_number": 12, "address": "测试村 12 号",
            "rooms": [{"label": "101", "area_m2": 15.5, "rent_fen": 80_000, "occupancy_limit": 2,
                       "facilities": ["空调", "独立卫生间"]}]}
    data.update(over)
    return data


@pytest.fixture
def house(client, w, session, clock):
    resp = client.post(f"{BASE}/houses", json=house_body(w), headers=h(w, session, clock, "landlord"))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def inspect(client, w, session, clock, house_id, who="committee_a", **checklist):
    return client.post(f"{BASE}/houses/{house_id}/inspections", json={"checklist": {**OK, **checklist}},
                       headers=h(w, session, clock, who))


def tenancy(client, w, session, clock, room_id, tenants, starts, ends):
    return client.post(f"{BASE}/tenancies", json={"room_id": room_id, "tenants": [w.ids[t] for t in tenants],
                                                  "starts_on": starts, "ends_on": ends},
                       headers=h(w, session, clock, "landlord"))


def approve(client, w, session, clock, application_id, who="committee_a"):
    return client.post(f"{BASE}/applications/{application_id}/approve", json={},
                       headers=h(w, session, clock, who))


@pytest.mark.parametrize(("over", "status", "code", "field"), [
    ({"rooms": [{"label": "1", "area_m2": 10, "rent_fen": 0, "occupancy_limit": 1}]}, 422, "validation_error",
     "rooms.0.rent_fen"),
    ({"rooms": [{"label": "1", "area_m2": -3, "rent_fen": 100, "occupancy_limit": 1}]}, 422, "validation_error",
     "rooms.0.area_m2"),
    ({"village": "no-such-village"}, 422, "place_not_found", "village"),
])
def test_bad_houses(client, w, session, clock, over, status, code, field):
    resp = client.post(f"{BASE}/houses", json=house_body(w, **over), headers=h(w, session, clock, "landlord"))
    assert (resp.status_code, resp.get_json()["code"]) == (status, code) and field in resp.get_json()["errors"]


def test_only_villagers_register_and_only_their_committee_inspects(client, w, session, clock, house):
    resp = client.post(f"{BASE}/houses", json=house_body(w, house_number=13), headers=h(w, session, clock, "outsider"))
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_a_villager"
    again = client.post(f"{BASE}/houses", json=house_body(w), headers=h(w, session, clock, "landlord"))
    assert again.status_code == 409 and again.get_json()["code"] == "house_registered"
    assert inspect(client, w, session, clock, house["id"], "committee_b").status_code == 404
    assert client.get(f"{BASE}/houses/{house['id']}", headers=h(w, session, clock, "committee_b")).status_code == 404
    assert client.get(f"{BASE}/houses/{house['id']}", headers=h(w, session, clock, "outsider")).status_code == 404
    assert inspect(client, w, session, clock, house["id"], "landlord").status_code == 403
    failed = inspect(client, w, session, clock, house["id"], smoke_alarm=False)
    assert failed.status_code == 201 and failed.get_json()["passed"] is False
    assert failed.get_json()["house"]["state"] == "suspended"
    listed = client.get(f"{BASE}/listings", headers=h(w, session, clock, "tenant1")).get_json()
    assert listed["total"] == 0
    passed = inspect(client, w, session, clock, house["id"]).get_json()
    assert passed["house"]["state"] == "approved" and passed["house"]["green"] is False
    listed = client.get(f"{BASE}/listings", headers=h(w, session, clock, "tenant1"),
                        query_string={"price_max": 90_000}).get_json()
    assert listed["total"] == 1 and listed["items"][0]["price_fen"] == 80_000
    for village, total in ((w.world.village, 1), (w.world.village2, 0)):
        by_village = client.get(f"{BASE}/listings", headers=h(w, session, clock, "tenant1"),
                                query_string={"place": village.code, "lat": village.lat, "lon": village.lon,
                                              "radius_m": 5000, "price_max": 90_000}).get_json()
        assert by_village["total"] == total
    assert inspect(client, w, session, clock, house["id"]).get_json()["house"]["green"] is True  # two passes
    assert client.get(f"{BASE}/listings", headers=h(w, session, clock, "tenant1")).get_json()["items"][0]["rank"] == 1
    due = client.get(f"{BASE}/houses", headers=h(w, session, clock, "committee_a"),
                     query_string={"inspection_due_by": "2027-12-31"}).get_json()
    assert [x["id"] for x in due["items"]] == [house["id"]]
    assert client.get(f"{BASE}/houses", headers=h(w, session, clock, "committee_b")).get_json()["total"] == 0


def test_tenancy_approval_holds_the_occupancy_limit_at_every_moment(client, w, session, clock, house):
    room = house["rooms"][0]["id"]
    early = tenancy(client, w, session, clock, room, ["tenant1"], "2026-03-10", "2026-06-10")
    assert early.status_code == 422 and early.get_json()["code"] == "not_eligible"  # not inspected yet
    inspect(client, w, session, clock, house["id"])
    unverified = tenancy(client, w, session, clock, room, ["unverified"], "2026-03-10", "2026-06-10")
    assert unverified.status_code == 422 and unverified.get_json()["code"] == "not_eligible"
    too_many = tenancy(client, w, session, clock, room, ["tenant1", "tenant2", "tenant3"], "2026-03-10", "2026-06-10")
    assert too_many.status_code == 422 and "form.tenants" in too_many.get_json()["errors"]
    a = tenancy(client, w, session, clock, room, ["tenant1"], "2026-03-10", "2026-06-10").get_json()
    b = tenancy(client, w, session, clock, room, ["tenant2"], "2026-05-01", "2026-08-01").get_json()
    c = tenancy(client, w, session, clock, room, ["tenant3"], "2026-06-01", "2026-07-01").get_json()
    d = tenancy(client, w, session, clock, room, ["tenant3"], "2026-08-01", "2026-09-01").get_json()
    assert a["state"] == "pending"
    assert approve(client, w, session, clock, a["application_id"], "committee_b").status_code == 404
    assert approve(client, w, session, clock, a["application_id"]).get_json()["state"] == "approved"
    assert approve(client, w, session, clock, b["application_id"]).get_json()["state"] == "approved"
    # 1 June – 1 July: a (until 10 June) and b already hold two: c would make three on 1–9 June
    over = approve(client, w, session, clock, c["application_id"], "committee_a2")
    assert over.status_code == 409 and over.get_json()["code"] == "room_over_occupancy"
    assert client.get(f"{BASE}/applications/{c['application_id']}",
                      headers=h(w, session, clock, "committee_a")).get_json()["state"] == "submitted"
    assert approve(client, w, session, clock, d["application_id"]).get_json()["state"] == "approved"  # after b
    clock.set(clock.now().replace(month=5, day=15))
    seen = client.get(f"{BASE}/houses/{house['id']}", headers=h(w, session, clock, "landlord")).get_json()
    tenants = seen["rooms"][0]["current_tenants"]
    assert len(tenants) == 2 and all(t["id_number"].startswith("5") and "*" in t["id_number"] for t in tenants)
    assert all(w.ids[x] not in str(seen) for x in ("tenant1", "tenant2"))
    assert date(2026, 5, 15).weekday() == 4
    # the application keeps its form: the tenants' ID numbers only masked, at rest and in answers
    stored = session.execute(sa.text("SELECT form FROM ap_applications WHERE id = :i"),
                             {"i": a["application_id"]}).scalar()
    assert w.ids["tenant1"] not in str(stored) and "*" in str(stored)
    shown = client.get(f"{BASE}/applications/{a['application_id']}", headers=h(w, session, clock, "committee_a"))
    assert w.ids["tenant1"] not in shown.get_data(as_text=True)


def test_demo_data_lists_rooms_in_every_reference_village(app, session, clock, client):
    from sqlalchemy import func, select

    from app.places.models import Village
    from scenarios.rural_rental.demo import load
    from scenarios.rural_rental.models import RrHouse

    with app.app_context():
        assert load(session, clock) == {"rural_rental_houses": 10}
        assert load(session, clock) == {"rural_rental_houses": 0}  # idempotent
    session.commit()
    xinghuo = session.scalar(select(Village).where(Village.name == "星火村"))
    house = session.scalar(select(RrHouse).where(RrHouse.village_id == xinghuo.id))
    assert house.state == "approved" and session.scalar(select(func.count()).select_from(RrHouse)) == 10
    from auth.models import Account
    tenant = session.scalar(select(Account).where(Account.openid == "demo-resident-3400"))
    found = client.get(f"{BASE}/listings", headers=bearer(token_for(session, clock, tenant)),
                       query_string={"lat": xinghuo.lat, "lon": xinghuo.lon, "radius_m": 1000}).get_json()
    assert found["total"] >= 2 and all("星火村" in e["title"] for e in found["items"])


@pytest.fixture
def keyring(app, db, clock):
    from qr.keys import init_keys
    from tests.support.qr import make_keyring

    kr = make_keyring(app, db, clock)
    with db.transaction() as s:
        init_keys(s, kek=kr._kek, clock=clock)
    app.extensions["qr_keyring"] = kr
    yield kr
    app.extensions.pop("qr_keyring", None)


def test_arrivals_and_departures(client, w, session, clock, house, keyring):
    from qr.service import issue_personal

    room = house["rooms"][0]["id"]
    inspect(client, w, session, clock, house["id"])
    t = tenancy(client, w, session, clock, room, ["tenant1", "tenant2"], "2026-03-02", "2026-04-01").get_json()
    tid = t["id"]

    def stay(action, who="landlord", **body):
        return client.post(f"{BASE}/tenancies/{tid}/{action}", json=body, headers=h(w, session, clock, who))

    early = stay("arrivals", id_number=w.ids["tenant1"])
    assert early.status_code == 409 and early.get_json()["code"] == "no_approved_tenancy"  # not approved yet
    approve(client, w, session, clock, t["application_id"])
    assert stay("arrivals", "committee_b", id_number=w.ids["tenant1"]).status_code == 404  # another village
    assert stay("arrivals", "tenant1", id_number=w.ids["tenant1"]).status_code == 403  # tenants see, do not register
    other = stay("arrivals", id_number=w.ids["tenant3"])
    assert other.status_code == 409 and other.get_json()["code"] == "not_a_tenant"
    assert stay("arrivals").status_code == 422
    assert stay("arrivals", id_number=w.ids["tenant1"]).get_json()["stays"][0]["via"] == "id_number"
    code = issue_personal(session, holder_type="person", holder_id=w.accounts["tenant2"].person_id, clock=clock,
                          keyring=keyring).token
    session.commit()
    both = stay("arrivals", token=code).get_json()
    assert [s["via"] for s in both["stays"]] == ["id_number", "code"]
    replay = stay("arrivals", token=code)
    assert replay.status_code == 409 and replay.get_json()["code"] == "qr_replayed"
    assert stay("departures", id_number=w.ids["tenant1"]).get_json()["stays"][0]["left_at"] is not None
    clock.set(clock.now().replace(month=4, day=2))
    flagged = client.get(f"{BASE}/tenancies", headers=h(w, session, clock, "committee_a"),
                         query_string={"overstaying": "true"}).get_json()
    assert [x["id"] for x in flagged["items"]] == [tid] and flagged["items"][0]["overstaying"] is True
    assert client.get(f"{BASE}/tenancies", headers=h(w, session, clock, "committee_b"),
                      query_string={"overstaying": "true"}).get_json()["total"] == 0
    stay("departures", token=issue_personal(session, holder_type="person", holder_id=w.accounts["tenant2"].person_id,
                                            clock=clock, keyring=keyring).token)
    assert client.get(f"{BASE}/tenancies", headers=h(w, session, clock, "committee_a"),
                      query_string={"overstaying": "true"}).get_json()["total"] == 0
    late = stay("arrivals", id_number=w.ids["tenant1"])
    assert late.status_code == 409 and late.get_json()["code"] == "no_approved_tenancy"


def test_the_committee_is_reminded_once_of_inspections_coming_due(client, w, session, clock, house):
    import sqlalchemy as sa

    from app.notify.models import OutboxMessage
    from scenarios.rural_rental.jobs import remind_inspections

    client.post(f"{BASE}/houses/{house['id']}/inspections", json={"checklist": OK, "next_on": "2026-03-20"},
                headers=h(w, session, clock, "committee_a"))
    assert remind_inspections(session, clock) == 0  # 18 days away
    clock.set(clock.now().replace(day=7))
    assert remind_inspections(session, clock) == 1
    assert remind_inspections(session, clock) == 0  # once per house and due date
    sent = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "inspection_due")).all()
    assert [(m.recipient_kind, m.recipient_id) for m in sent] == [("org", str(w.world.village_committees[0].id))]


def test_the_export_holds_a_landlords_houses_and_a_tenants_stays_and_no_one_elses(client, w, session, clock, house):
    from app.privacy.parts import Subject
    from scenarios.rural_rental.personal_data import PERSONAL_DATA

    room = house["rooms"][0]["id"]
    inspect(client, w, session, clock, house["id"])
    t = tenancy(client, w, session, clock, room, ["tenant1"], "2026-03-02", "2026-04-01").get_json()
    approve(client, w, session, clock, t["application_id"])
    arrived = client.post(f"{BASE}/tenancies/{t['id']}/arrivals", json={"id_number": w.ids["tenant1"]},
                          headers=h(w, session, clock, "landlord"))
    assert arrived.status_code == 200, arrived.get_json()

    def of(who):
        account = w.accounts[who]
        return PERSONAL_DATA.collect(session, Subject(account.person_id, (account.id,), clock))

    landlord, tenant, other = of("landlord"), of("tenant1"), of("tenant2")
    assert [x["id"] for x in landlord["rental_houses"]] == [house["id"]] and len(landlord["rental_inspections"]) == 1
    assert "inspector_account_id" not in landlord["rental_inspections"][0]
    assert landlord["rental_stays"] == [] and tenant["rental_houses"] == []
    assert [(s["tenancy_id"], s["via"]) for s in tenant["rental_stays"]] == [(t["id"], "id_number")]
    assert other == {"rental_houses": [], "rental_inspections": [], "rental_stays": [], "rental_violations": [],
                     "rental_violation_follow_ups": [], "rental_requests": []}
