"""一键叫车 on the dispatch engine, on the reference places: a pilot community's resident calls
with one tap (idempotent), the nearest free driver is offered it, the ride runs through its
states, the resident sees the driver's masked name, plate and distance only while they come;
drivers outside the pilot's area or the district are handled; 区交通委 sees the figures."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.places.models import Community
from auth.organisations import Organisation
from scenarios.engines.dispatch.models import DispatchJob
from scenarios.taxi.pilot import BY_COMMUNITY, PILOT
from tests.support.dispatch import DP
from tests.support.factories import make_org, make_resident, make_staff
from tests.support.workflow import add_residence

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
BASE = "/api/v1/taxi"
PILOT_CODE = PILOT[0].community
TRANSPORT = "310116-bureau-transport"


@pytest.fixture
def taxi(db, session, clock, client) -> DP:
    clock.set(clock.now().replace(year=2026, month=3, day=2, hour=2, minute=0, second=0, microsecond=0))
    point = BY_COMMUNITY[PILOT_CODE]
    t = DP(session=session, db=db, clock=clock, client=client, world=None, origin=(point.lat, point.lon), base=BASE,
           noun="rides")
    district = session.scalar(sa.select(Organisation).where(Organisation.code == "310116"))
    bureau = session.scalar(sa.select(Organisation).where(Organisation.code == TRANSPORT))
    company = make_org(session, "taxi_company", name="金山出租", supervisor=bureau)
    other = make_org(session, "taxi_company", name="强生出租")
    for name, org, role in (("d1", company, "driver"), ("d2", company, "driver"), ("e1", other, "driver"),
                            ("manager", company, "manager"), ("other_manager", other, "manager"),
                            ("transport", bureau, "supervisor"), ("admin", district, "admin")):
        t.accounts[name] = make_staff(session, org, role)
        t.orgs[name] = org
    pilot = session.scalar(sa.select(Community).where(Community.code == PILOT_CODE))
    elsewhere = session.scalar(sa.select(Community).where(Community.code.not_in(list(BY_COMMUNITY))).limit(1))
    t.accounts["alice"] = make_resident(session, name="张阿姨")
    add_residence(session, t.accounts["alice"], pilot, building=_first_building(session, pilot))
    t.accounts["bob"] = make_resident(session, name="王伯")
    add_residence(session, t.accounts["bob"], elsewhere, building=_first_building(session, elsewhere))
    session.commit()
    return t


def _first_building(session, community) -> str:
    from app.places.models import Building

    return session.scalar(sa.select(Building.number).where(Building.community_id == community.id)
                          .order_by(Building.id).limit(1))


def on_duty(t: DP, who: str, north_m: float, plate: str = "沪B·T1001") -> None:
    t.call("PUT", who, "/agents/me/duty", {"on_duty": True, "details": {"plate": plate}})
    t.move(who, north_m)


def notices(t: DP, job_id: int) -> list[tuple[str, str, str]]:
    t.session.expire_all()
    names = {str(a.id): n for n, a in t.accounts.items()}
    rows = t.session.execute(sa.select(OutboxMessage.template, OutboxMessage.channel, OutboxMessage.recipient_id)
                             .where(OutboxMessage.event_key.like(f"dispatch:{job_id}:%")).order_by(OutboxMessage.id))
    return [(tpl, ch, names[r]) for tpl, ch, r in rows]


def test_a_ride_from_a_pilot_community_runs_through_its_states(taxi):
    on_duty(taxi, "d1", 1500, "沪B·T1001")
    on_duty(taxi, "d2", 600, "沪B·T1002")
    key = {"Idempotency-Key": "ride-0001-abcdef"}
    ride = taxi.call("POST", "alice", "/rides", {"destination": "金山医院"}, expect=201, headers=key)
    again = taxi.call("POST", "alice", "/rides", {"destination": "金山医院"}, expect=201, headers=key)
    assert again["id"] == ride["id"]  # a retry on a weak network: the same ride
    assert ride["status"] == "offered" and ride["origin"]["label"] == PILOT[0].name and ride["area"] == PILOT_CODE
    assert taxi.offers("d2") == [ride["id"]] and taxi.offers("d1") == []  # the nearest, alone (batch of 1)
    offer = taxi.call("GET", "d2", "/agents/me/offers")["items"][0]
    assert offer["distance_m"] == 600 and offer["expires_at"].endswith("+08:00")
    accepted = taxi.act("d2", ride["id"], "accept")
    assert accepted["private"] == {"destination": "金山医院"} and accepted["requester"] == "张**"
    seen = taxi.job("alice", ride["id"])
    assert seen["status"] == "accepted" and seen["agent"]["extra"] == {"plate": "沪BT1002"}
    assert seen["agent"]["distance_m"] == 600
    taxi.move("d2", 100)
    assert taxi.job("alice", ride["id"])["agent"]["distance_m"] == 100  # they come
    for action, status in (("arrived", "arriving"), ("start", "in_trip")):
        assert taxi.act("d2", ride["id"], action)["status"] == status
    taxi.act("d2", ride["id"], "complete", {}, expect=422)  # the fare is required
    done = taxi.act("d2", ride["id"], "complete", {"fare_fen": 2350})
    assert done["status"] == "completed" and done["details"]["fare_fen"] == 2350
    gone = taxi.job("alice", ride["id"])["agent"]
    assert gone["distance_m"] is None and gone["position"] is None and gone["extra"] == {"plate": "沪BT1002"}
    assert notices(taxi, ride["id"]) == [("taxi_offer", "wecom", "d2"), ("taxi_accepted", "wechat", "alice"),
                                         ("taxi_arrived", "wechat", "alice")]
    assert [r["id"] for r in taxi.call("GET", "manager", "/rides")["items"]] == [ride["id"]]
    assert taxi.call("GET", "other_manager", "/rides")["items"] == []
    taxi.job("other_manager", ride["id"], expect=404)
    taxi.job("d1", ride["id"], expect=404)  # a colleague never offered it


def test_the_next_driver_after_20_seconds_and_unserved_at_the_end(taxi):
    on_duty(taxi, "d1", 300)
    on_duty(taxi, "d2", 900)
    ride = taxi.call("POST", "alice", "/rides", {}, expect=201)["id"]
    assert taxi.offers("d1") == [ride]
    taxi.tick(20)
    assert taxi.offers("d1") == [] and taxi.offers("d2") == [ride]
    for _ in range(12):
        taxi.tick(20)
    body = taxi.job("alice", ride)
    assert body["status"] == "unserved"
    assert ("taxi_unserved", "wechat", "alice") in notices(taxi, ride)


def test_a_ride_from_outside_the_pilot_communities_is_refused(taxi):
    resp = taxi.client.post(f"{BASE}/rides", json={}, headers=taxi.token("bob"))
    assert resp.status_code == 422 and resp.get_json()["code"] == "outside_service_area"
    assert set(resp.get_json()["errors"]) == {"community"}
    assert taxi.session.scalar(sa.select(sa.func.count()).select_from(DispatchJob)) == 0


def test_a_driver_leaving_jinshan_is_kept_but_gets_no_offers_until_back(taxi):
    on_duty(taxi, "d1", 300)
    state = taxi.call("PUT", "d1", "/agents/me/position", {"lat": 30.70, "lon": 121.02})  # 平湖, Zhejiang
    assert state["outside_area"] is True and state["available"] is False
    on_duty(taxi, "d2", 2000)
    ride = taxi.call("POST", "alice", "/rides", {}, expect=201)["id"]
    assert taxi.offers("d1") == [] and taxi.offers("d2") == [ride]
    assert taxi.move("d1", 300)["available"] is True  # back


def test_plates_and_fares_are_checked(taxi):
    resp = taxi.client.put(f"{BASE}/agents/me/duty", json={"on_duty": True, "details": {"plate": "ABC"}},
                           headers=taxi.token("d1"))
    assert resp.status_code == 422 and "details.plate" in resp.get_json()["errors"]
    on_duty(taxi, "d1", 100)
    ride = taxi.call("POST", "alice", "/rides", {"passengers": 9}, expect=422)
    assert "passengers" in ride["errors"]


def test_the_transport_committee_sees_the_figures(taxi):
    on_duty(taxi, "d1", 300)
    ride = taxi.call("POST", "alice", "/rides", {}, expect=201)["id"]
    taxi.clock.advance(seconds=6)
    taxi.act("d1", ride, "accept")
    day = taxi.clock.now().date().isoformat()
    rows = taxi.call("GET", "transport", f"/stats?date_from={day}&date_to={day}")["items"]
    assert rows == [{"area": PILOT_CODE, "day": day, "requests": 1, "served": 1, "served_share": 1.0,
                     "median_wait_accept_s": 6.0, "median_wait_pickup_s": None}]
    taxi.call("GET", "manager", f"/stats?date_from={day}&date_to={day}", expect=403)
    assert {a["username"] for a in taxi.call("GET", "manager", "/agents")["items"]} == {
        taxi.accounts["d1"].username}


def test_demo_data_loads_twice_without_change(app, db, clock):
    from app.models import metadata
    from scenarios.taxi.demo import load

    def counts(s):
        return {t.name: s.scalar(sa.select(sa.func.count()).select_from(t)) for t in metadata.sorted_tables}

    with app.app_context():
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            first = counts(s)
            statuses = sorted(s.scalars(sa.select(DispatchJob.status).where(DispatchJob.scenario == "taxi")))
        clock.advance(minutes=5)
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            assert counts(s) == first
    assert statuses == ["cancelled", "completed", "unserved"]
    assert first["dispatch_agents"] == 8
