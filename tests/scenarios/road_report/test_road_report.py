"""road-report (智慧路长, L25) end to end: reports by road or by point, from residents and from
road chiefs on patrol, assigned to the road's chief who alone (with 区交通委) sees them; public
road notices written by 区交通委 only; /me/tickets across scenarios."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import Membership
from scenarios.engines.workflow.models import Ticket
from scenarios.registry import SCENARIOS, by_slug
from scenarios.road_report.models import Road, RoadNotice
from scenarios.road_report.roads import distance_to_polyline_m
from tests.support.reports import (
    CITY_OPS,
    DISTRICT,
    ECOLOGY,
    FENGJING,
    NEAR_SHIHUA,
    TRANSPORT,
    get,
    messages,
    org,
    people,
    photo,
    post,
)
from tests.support.workflow import events

# For every test: an app context for the factories.
pytestmark = pytest.mark.usefixtures("ctx")

BASE = "/api/v1/road-report"
NOTICES = f"{BASE}/notices"


@pytest.fixture
def road(app, session, clock):
    wf = people(session, clock, staff={
        "bureau_sup": (TRANSPORT, "supervisor"), "bureau_staff": (TRANSPORT, "staff"),
        "chief_a": (TRANSPORT, "road_chief"), "chief_b": (TRANSPORT, "road_chief"),
        "town_chief": (FENGJING, "road_chief"), "eco_sup": (ECOLOGY, "supervisor"),
        "ops_staff": (CITY_OPS, "staff"), "admin": (DISTRICT, "admin"),
    }, residents=["alice", "bob"])

    def add(code: str, name: str, chief: str | None, points: list[tuple[float, float]]) -> Road:
        membership = None
        if chief:
            membership = session.scalar(sa.select(Membership.id).where(Membership.account_id == wf.id(chief)))
        r = Road(code=code, name=name, chief_membership_id=membership, active=True)
        r.set_points(points)
        session.add(r)
        session.flush()
        return r

    wf.roads = {
        "A": add("T-LHL", "龙航路", "chief_a", [(30.7350, 121.3530), (30.7550, 121.3540), (30.7780, 121.3550)]),
        "B": add("T-WLL", "卫零路", "chief_b", [(30.7230, 121.3050), (30.7240, 121.3550)]),
        "F": add("T-ZFGL", "朱枫公路", "town_chief", [(30.8820, 121.1650), (30.8800, 121.1000)]),
        "N": add("T-BQXL", "板桥西路", None, [(30.7450, 121.3200), (30.7455, 121.3400)]),
    }
    session.commit()
    return wf


def report(client, wf, who: str = "alice", *, expect: int = 201, category: str = "路面破损",
           text: str = "路中间有个大坑", **place) -> dict:
    where = {} if "road" in place or "location" in place else {"road": "T-LHL"}
    body = {"category": category, "text": text, **where, **place}
    return post(client, wf, who, f"{BASE}/tickets", body, expect=expect)


def ticket(client, wf, who: str, tid: int, expect: int = 200) -> dict:
    return get(client, wf, who, f"{BASE}/tickets/{tid}", expect=expect)


def act(client, wf, who: str, tid: int, action: str, body: dict | None = None, expect: int = 200) -> dict:
    return post(client, wf, who, f"{BASE}/tickets/{tid}/{action}", body, expect=expect)


def queue(client, wf, who: str, **params) -> list[int]:
    return [t["id"] for t in get(client, wf, who, f"{BASE}/queue", **params)["items"]]


def test_registered_on_the_workflow_engine():
    scenario = by_slug("road-report")
    assert scenario in SCENARIOS and scenario.engines == ("workflow",) and scenario.seed_refs == ("L25",)


def test_full_flow_resident_report_to_the_roads_chief(client, road, clock, session):
    body = report(client, road, text="龙航路近金山大道有大坑", photos=[photo(road, "alice")], address="金山大道路口")
    tid = body["id"]
    assert body["number"].startswith("LZ20261102") and body["org"]["code"] == TRANSPORT
    assert body["assignee_account_id"] == road.id("chief_a") and body["moderation_state"] == "visible"
    assert body["details"] == {"road_code": "T-LHL", "road_name": "龙航路"}
    assert body["location"]["address"] == "龙航路 金山大道路口"
    assert body["sla"]["calendar"] == "24x7" and body["sla"]["response_due_at"] == "2026-11-02T11:00:00+08:00"
    assert [e["action"] for e in body["events"]] == ["create", "route"]
    assert [m.recipient_id for m in messages(session, tid, "ticket_assigned")] == [str(road.id("chief_a"))]

    assert queue(client, road, "chief_a") == [tid] and queue(client, road, "chief_b") == []
    assert queue(client, road, "bureau_sup") == [tid]
    clock.advance(minutes=15)
    act(client, road, "chief_a", tid, "acknowledge")
    act(client, road, "chief_a", tid, "start")
    clock.advance(hours=5)
    done = act(client, road, "chief_a", tid, "resolve", {"note": "已修补坑槽", "photos": [photo(road, "chief_a")]})
    assert done["status"] == "resolved" and [p["stage"] for p in done["photos"]] == ["report", "resolution"]
    act(client, road, "alice", tid, "confirm")
    assert act(client, road, "alice", tid, "rating", {"rating": 4})["rating"] == 4
    told = messages(session, tid, "ticket_resolved")
    assert [(m.channel, m.recipient_id) for m in told] == [("wechat", str(road.id("alice")))]
    assert told[0].payload["title"] == "智慧路长" and told[0].payload["ticket_no"] == done["number"]


def test_a_point_finds_the_nearest_road_within_the_radius(client, road):
    near_b = report(client, road, location={"lat": 30.7238, "lon": 121.3300})  # ~10 m from 卫零路
    assert near_b["details"]["road_code"] == "T-WLL" and near_b["assignee_account_id"] == road.id("chief_b")
    assert near_b["location"]["lat"] == 30.7238
    # Both a road and a point: the road named wins, the point is kept.
    both = report(client, road, road="T-LHL", location={"lat": 30.7238, "lon": 121.3300})
    assert both["details"]["road_code"] == "T-LHL"
    body = report(client, road, location={"lat": 30.8300, "lon": 121.2500}, expect=422)  # fields, far from any road
    assert body["code"] == "no_road_nearby" and "location" in body["errors"]


def test_distance_to_a_polyline():
    line = [[30.0, 121.0], [30.0, 121.01]]
    assert distance_to_polyline_m(30.0, 121.005, line) < 0.01
    assert 110 < distance_to_polyline_m(30.001, 121.005, line) < 112  # 0.001° of latitude ≈ 111 m
    assert 96 < distance_to_polyline_m(30.0, 121.011, line) < 97  # beyond the end: to the end point


def test_bad_input(client, road, session):
    body = report(client, road, road="NO-SUCH", expect=422)
    assert body["code"] == "unknown_road" and "road" in body["errors"]
    body = report(client, road, location={"lat": 31.2304, "lon": 121.4737}, expect=422)
    assert body["code"] == "outside_district" and "location" in body["errors"]
    body = report(client, road, road="T-LHL", location={"lat": 30.60, "lon": 121.35}, expect=422)
    assert body["code"] == "outside_district"
    body = post(client, road, "alice", f"{BASE}/tickets", {"category": "路面破损", "text": "坑"}, expect=422)
    assert body["code"] == "validation_error" and "road" in body["errors"]
    assert report(client, road, category="天气", expect=422)["code"] == "unknown_category"
    assert "photos" in report(client, road, photos=[photo(road, "bob")], expect=422)["errors"]
    assert "details.road_code" in report(client, road, details={"road_code": "T-WLL"}, expect=422)["errors"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.scenario == "road-report")) == 0


def test_a_road_without_a_chief_waits_for_the_bureau(client, road):
    tid = report(client, road, road="T-BQXL")["id"]
    body = ticket(client, road, "bureau_sup", tid)
    assert body["assignee_account_id"] is None and [e["action"] for e in body["events"]] == ["create"]
    assigned = act(client, road, "bureau_sup", tid, "assign", {"assignee_account_id": road.id("chief_b")})
    assert assigned["status"] == "assigned"
    assert ticket(client, road, "chief_b", tid)["allowed_actions"][:1] == ["start"]
    act(client, road, "bureau_sup", tid, "assign", {"assignee_account_id": road.id("town_chief")}, expect=422)


# ---------------------------------------------------------------- visibility


@pytest.mark.parametrize("who,expect", [("alice", 200), ("bob", 404), ("chief_a", 200), ("chief_b", 404),
                                        ("town_chief", 404), ("bureau_sup", 200), ("bureau_staff", 200),
                                        ("eco_sup", 404), ("ops_staff", 404), ("admin", 200)])
def test_who_sees_a_report_on_a_road(client, road, who, expect):
    tid = report(client, road)["id"]
    ticket(client, road, who, tid, expect=expect)


def test_road_chiefs_handle_only_their_roads(client, road):
    a = report(client, road)["id"]
    b = report(client, road, "bob", road="T-WLL")["id"]
    act(client, road, "chief_b", a, "acknowledge", expect=404)
    act(client, road, "chief_a", b, "resolve", {"note": "修好了"}, expect=404)
    act(client, road, "chief_a", a, "reject", {"reason": "不是道路问题"}, expect=403)  # the bureau rejects
    act(client, road, "chief_a", a, "assign", {"assignee_account_id": road.id("chief_b")}, expect=403)
    assert queue(client, road, "chief_a") == [a] and queue(client, road, "chief_b") == [b]
    assert sorted(queue(client, road, "bureau_staff")) == sorted([a, b])
    # Reassigned by the bureau: the road's former chief loses it, the new one gets it.
    act(client, road, "bureau_staff", a, "assign", {"assignee_account_id": road.id("chief_b")})
    ticket(client, road, "chief_a", a, expect=404)
    assert sorted(queue(client, road, "chief_b")) == sorted([a, b])


def test_a_town_road_chief_handles_their_road_across_organisations(client, road):
    tid = report(client, road, road="T-ZFGL", category="路灯故障", text="路灯不亮")["id"]
    body = ticket(client, road, "town_chief", tid)
    assert body["org"]["code"] == TRANSPORT and body["assignee_account_id"] == road.id("town_chief")
    assert queue(client, road, "town_chief") == [tid]
    act(client, road, "town_chief", tid, "acknowledge")
    assert act(client, road, "town_chief", tid, "resolve", {"note": "已更换灯具"})["status"] == "resolved"


def test_road_chiefs_report_on_patrol(client, road, session):
    own = report(client, road, "chief_a", category="道路遗撒", text="巡查发现渣土遗撒")
    assert own["assignee_account_id"] == road.id("chief_a") and own["events"][0]["actor_kind"] == "staff"
    other = report(client, road, "chief_a", road="T-WLL", text="巡查发现卫零路坑槽")
    assert other["assignee_account_id"] == road.id("chief_b")
    # The reporting chief follows what they reported but cannot act on another chief's road.
    body = ticket(client, road, "chief_a", other["id"])
    assert "acknowledge" not in body["allowed_actions"]
    act(client, road, "chief_a", other["id"], "acknowledge", expect=403)
    assert act(client, road, "bureau_staff", other["id"], "acknowledge")["status"] == "acknowledged"
    # Staff who are not road chiefs do not file reports.
    for who in ("bureau_staff", "eco_sup"):
        assert report(client, road, who, expect=403)["code"] == "forbidden"
    assert {e.actor_kind for e in events(session, own["id"], "create")} == {"staff"}


# ---------------------------------------------------------------- notices


def notice(client, wf, who: str = "bureau_staff", expect: int = 201, **fields) -> dict:
    body = {"road": "T-WLL", "kind": "works", "text": "雨污水管道施工，半幅通行", "from": "2026-11-01",
            "to": "2026-11-20", **fields}
    return post(client, wf, who, NOTICES, body, expect=expect)


def test_notices_public_read_and_bureau_write(client, road):
    works = notice(client, road)
    assert works["road"] == {"code": "T-WLL", "name": "卫零路"} and works["publisher"]["code"] == TRANSPORT
    assert (works["from"], works["to"], works["kind"]) == ("2026-11-01", "2026-11-20", "works")
    closure = notice(client, road, "bureau_sup", road="T-LHL", kind="closure", text="夜间封闭施工", **{
        "from": "2026-11-05", "to": "2026-11-06"})
    detour = notice(client, road, road="T-LHL", kind="detour", text="大型车辆请绕行", **{
        "from": "2026-11-02", "to": "2026-11-02"})

    def listed(**params) -> list[int]:
        resp = client.get(NOTICES, query_string=params)  # no login
        assert resp.status_code == 200, resp.get_json()
        return [n["id"] for n in resp.get_json()["items"]]

    assert listed() == [closure["id"], detour["id"], works["id"]]  # newest start first
    assert listed(active="true") == [detour["id"], works["id"]]
    assert listed(road="T-LHL", active="true") == [detour["id"]]
    assert listed(road="T-LHL") == [closure["id"], detour["id"]]
    road.clock.advance(days=1)
    assert listed(road="T-LHL", active="true") == []

    resp = client.delete(f"{NOTICES}/{works['id']}", headers=road.token("bureau_staff"))
    assert resp.status_code == 204
    assert listed() == [closure["id"], detour["id"]]
    assert client.delete(f"{NOTICES}/{works['id']}", headers=road.token("bureau_staff")).status_code == 404


@pytest.mark.parametrize("who,expect", [("alice", 403), ("chief_a", 403), ("town_chief", 404), ("eco_sup", 404),
                                        ("ops_staff", 404), ("admin", 403)])
def test_only_the_bureaus_staff_write_notices(client, road, session, who, expect):
    notice(client, road, who, expect=expect)
    existing = notice(client, road)
    # A notice is public: whoever may not withdraw it sees it, so 403 (404 only when there is none).
    resp = client.delete(f"{NOTICES}/{existing['id']}", headers=road.token(who))
    assert resp.status_code == 403 and resp.get_json()["code"] == "forbidden"
    assert client.delete(f"{NOTICES}/999999999", headers=road.token(who)).status_code == 404
    assert session.scalar(sa.select(sa.func.count()).select_from(RoadNotice)) == 1
    assert client.post(NOTICES, json={}).status_code == 401


def test_notice_bad_input(client, road):
    assert notice(client, road, road="NO-SUCH", expect=422)["code"] == "unknown_road"
    assert "to" in notice(client, road, **{"from": "2026-11-10", "to": "2026-11-01"}, expect=422)["errors"]
    assert "to" in notice(client, road, **{"from": "2026-10-01", "to": "2026-10-31"}, expect=422)["errors"]
    assert "kind" in notice(client, road, kind="party", expect=422)["errors"]
    assert "text" in notice(client, road, text="", expect=422)["errors"]


def test_roads_are_public(client, road):
    resp = client.get(f"{BASE}/roads", query_string={"page_size": 100})
    items = {r["code"]: r for r in resp.get_json()["items"]}
    assert resp.status_code == 200 and items["T-LHL"]["name"] == "龙航路"
    assert items["T-LHL"]["points"][0] == [30.735, 121.353] and "chief" not in str(items)


# ---------------------------------------------------------------- across scenarios


def test_me_tickets_lists_both_scenarios(client, road):
    city = post(client, road, "alice", "/api/v1/city-report/tickets", {
        "category": "绿化", "text": "树枝折断挂在电线上", "location": NEAR_SHIHUA, "photos": [photo(road, "alice")]},
        expect=201)
    mine = report(client, road)
    report(client, road, "bob")
    page = get(client, road, "alice", "/api/v1/me/tickets")
    assert {(t["id"], t["scenario"]) for t in page["items"]} == {(city["id"], "city-report"),
                                                                 (mine["id"], "road-report")}
    assert [t["id"] for t in get(client, road, "alice", "/api/v1/me/tickets", scenario="road-report")["items"]] == [
        mine["id"]]


def test_demo_data_loads_twice_without_change(app, db, clock):
    from app.models import metadata
    from scenarios.road_report.demo import load

    def counts(s):
        return {t.name: s.scalar(sa.select(sa.func.count()).select_from(t)) for t in metadata.sorted_tables}

    with app.app_context():
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            first = counts(s)
            statuses = set(s.scalars(sa.select(Ticket.status).where(Ticket.scenario == "road-report")))
            unassigned = s.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
                Ticket.scenario == "road-report", Ticket.assignee_account_id.is_(None)))
            town_chief = s.scalar(sa.select(Road.chief_membership_id).where(Road.code == "JS-ZFGL"))
            town = s.scalar(sa.select(Membership.organisation_id).where(Membership.id == town_chief))
            fengjing = org(s, FENGJING).id
        clock.advance(minutes=5)
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            assert counts(s) == first
    assert first["roads"] == 7 and first["road_notices"] == 3
    assert {"submitted", "in_progress", "resolved", "closed"} <= statuses and unassigned == 0
    assert town == fengjing


def test_the_answer_of_create_is_the_ticket_as_read_back(client, road):
    """Routed to the road's chief on creation: the 201 (with its route event) is what a GET gives."""
    body = report(client, road)
    assert [e["action"] for e in body["events"]][:1] == ["create"]
    created_only = ("possible_duplicates", "similar_report")
    assert {k: v for k, v in body.items() if k not in created_only} == ticket(client, road, "alice", body["id"])
    chief = report(client, road, "chief_a", text="巡查发现路面坑洼")
    assert {k: v for k, v in chief.items() if k not in created_only} == ticket(client, road, "chief_a", chief["id"])
