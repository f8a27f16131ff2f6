"""smart-village through HTTP: the committee publishes, villagers read (what is new) and confirm
the important ones, nobody outside the village sees anything (404), the hall's screen (a device
of the committee) reads the summary: residents, rental occupancy, open tickets in the village
(by house or within its area), recent notices."""
from __future__ import annotations

from datetime import date

import pytest

from auth.devices import create_device
from auth.models import Residence
from tests.support.factories import basic, bearer, make_resident, make_staff, place_world, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
BASE = "/api/v1/smart-village"


@pytest.fixture
def w(app, session, clock):
    world = place_world(session)
    accounts = {"committee": make_staff(session, world.village_committees[0], "committee"),
                "other_committee": make_staff(session, world.village_committees[1], "committee"),
                "villager": make_resident(session, name="张村民"), "villager2": make_resident(session, name="李村民"),
                "outsider": make_resident(session, name="王外人")}
    for who in ("villager", "villager2"):
        session.add(Residence(person_id=accounts[who].person_id, village_id=world.village.id, house_number=3,
                              valid_from=date(2020, 1, 1), status="verified"))
    screen, secret = create_device(session, org=world.village_committees[0], kind="kiosk", name="村委会大屏")
    session.commit()
    orgs = {"committee": world.village_committees[0], "other_committee": world.village_committees[1]}
    headers = {who: bearer(token_for(session, clock, a, orgs.get(who))) for who, a in accounts.items()}
    headers["screen"] = basic(screen.uid, secret)
    return world, accounts, headers


def test_notices_reads_and_confirmations(client, w):
    world, _, h = w
    url = f"{BASE}/villages/{world.village.code}/notices"
    body = {"kind": "finance", "title": "2026年一季度村务收支公开", "body": "收入 12 万元，支出 8 万元。",
            "important": True}
    assert client.post(url, json=body, headers=h["villager"]).status_code == 403
    assert client.post(url, json=body, headers=h["other_committee"]).status_code == 404
    resp = client.post(url, json=body, headers={**h["committee"], "Idempotency-Key": "sv-notice-0001"})
    assert resp.status_code == 201, resp.get_json()
    nid = resp.get_json()["id"]
    plain = client.post(url, json={**body, "kind": "notice", "title": "停水通知", "important": False},
                        headers=h["committee"]).get_json()["id"]
    bad = client.post(url, json={**body, "kind": "gossip"}, headers=h["committee"])
    assert bad.status_code == 422 and "kind" in bad.get_json()["errors"]
    for who in ("outsider", "other_committee"):
        assert client.get(url, headers=h[who]).status_code == 404
        assert client.get(f"{BASE}/notices/{nid}", headers=h[who]).status_code == 404
    new = client.get(url, headers=h["villager"], query_string={"unread": "true"}).get_json()
    assert {n["id"] for n in new["items"]} == {nid, plain}
    assert client.get(f"{BASE}/notices/{nid}", headers=h["villager"]).get_json()["read"] is True
    new = client.get(url, headers=h["villager"], query_string={"unread": "true"}).get_json()
    assert [n["id"] for n in new["items"]] == [plain]
    assert client.get(url, headers=h["villager2"], query_string={"unread": "true"}).get_json()["total"] == 2
    done = client.post(f"{BASE}/notices/{nid}/confirm", headers=h["villager"])
    assert done.status_code == 200 and done.get_json()["confirmed"] is True
    nope = client.post(f"{BASE}/notices/{plain}/confirm", headers=h["villager"])
    assert nope.status_code == 409 and nope.get_json()["code"] == "notice_not_important"
    assert client.post(f"{BASE}/notices/{nid}/confirm", headers=h["committee"]).status_code == 403
    seen = client.get(f"{BASE}/notices/{nid}", headers=h["committee"]).get_json()
    assert seen["confirmations"] == 1


def test_the_hall_screen_summary(client, w, session, clock):
    world, accounts, h = w
    village = world.village
    from auth.principal import Principal
    from scenarios.engines.workflow import service as wf_service
    from tests.engines.workflow.scenario import CONFIG

    reporter = Principal("resident", account_id=accounts["villager"].id, person_id=accounts["villager"].person_id)
    session.add(Residence(person_id=accounts["villager"].person_id, community_id=world.community.id,
                          building_id=world.community.buildings[0].id, room="302", valid_from=date(2020, 1, 1),
                          status="verified"))
    session.flush()
    places = [{"village_id": village.id, "house_number": 3},
              {"lat": village.lat + 0.005, "lon": village.lon},  # about 560 m away: inside
              {"lat": village.lat + 0.05, "lon": village.lon},  # about 5.6 km: outside
              {"village_id": village.id, "house_number": 3, "is_open": False}]  # closed
    for where in places:
        ticket = wf_service.create(session, clock=clock, principal=reporter, config=CONFIG, data={
            "category": "水电", "text": "路灯坏了", "community_code": world.community.code}).ticket
        ticket.community_id, ticket.building_id, ticket.room = None, None, None
        for key, value in where.items():
            setattr(ticket, key, value)
    session.commit()
    url = f"{BASE}/villages/{village.code}/summary"
    assert client.get(url, headers=h["villager"]).status_code == 403
    assert client.get(url, headers=h["other_committee"]).status_code == 404
    summary = client.get(url, headers=h["screen"]).get_json()
    assert summary["residents"] == 2 and summary["open_tickets"] == 2
    assert summary["rental"] == {"houses": {}, "beds": 0, "tenants": 0}
    assert client.get(url, headers=h["committee"]).status_code == 200
