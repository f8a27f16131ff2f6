"""city-report (随申拍, G12) end to end: report with a photo and a point, moderation, routing by
category by 区城运中心, transfers, the department's answer, the rating, the public hot spots."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.moderation.models import ModerationItem
from app.notify.templates import load_registry
from app.wechat.template_data import build_data
from scenarios.engines.workflow.models import Ticket
from scenarios.registry import SCENARIOS, by_slug
from tests.support.reports import (
    CITY_OPS,
    DISTRICT,
    ECOLOGY,
    GREENING,
    NEAR_SHIHUA,
    SHANYANG,
    SHIHUA,
    TRANSPORT,
    get,
    messages,
    people,
    photo,
    post,
)
from tests.support.workflow import events, run_worker, ticket_row

# For every test: an app context for the factories.
pytestmark = pytest.mark.usefixtures("ctx")

BASE = "/api/v1/city-report"
HOTSPOTS = f"{BASE}/hotspots"
NEAR_SHANYANG = {"lat": 30.7612, "lon": 121.3551}


@pytest.fixture
def city(app, session, clock):
    return people(session, clock, staff={
        "ops_sup": (CITY_OPS, "supervisor"), "ops_staff": (CITY_OPS, "staff"),
        "green_sup": (GREENING, "supervisor"), "green_staff": (GREENING, "staff"),
        "eco_sup": (ECOLOGY, "supervisor"), "transport_sup": (TRANSPORT, "supervisor"),
        "shihua_admin": (SHIHUA, "admin"), "shanyang_admin": (SHANYANG, "admin"), "admin": (DISTRICT, "admin"),
    }, residents=["alice", "bob"])


def file(client, city, who: str = "alice", *, category: str = "市容环境", text: str = "人行道上堆满建筑垃圾",
         location: dict | None = None, expect: int = 201, **extra) -> dict:
    body = {"category": category, "text": text, "location": NEAR_SHIHUA if location is None else location,
            "photos": [photo(city, who)], **extra}
    return post(client, city, who, f"{BASE}/tickets", body, expect=expect)


def clear(client, city, ticket_id: int, decision: str = "clear", who: str = "ops_staff") -> None:
    """城运中心 staff decide every item of the report still waiting for review."""
    items = get(client, city, who, "/api/v1/admin/moderation", subject_type="wf_ticket")["items"]
    mine = [i for i in items if i["subject_id"] == str(ticket_id)]
    assert mine, "the report's photo waits for review"
    for item in mine:
        post(client, city, who, f"/api/v1/admin/moderation/{item['id']}/{decision}", {"reason": "不雅图片"})


def ticket(client, city, who: str, tid: int, expect: int = 200) -> dict:
    return get(client, city, who, f"{BASE}/tickets/{tid}", expect=expect)


def act(client, city, who: str, tid: int, action: str, body: dict | None = None, expect: int = 200) -> dict:
    return post(client, city, who, f"{BASE}/tickets/{tid}/{action}", body, expect=expect)


def queue(client, city, who: str, **params) -> list[int]:
    return [t["id"] for t in get(client, city, who, f"{BASE}/queue", **params)["items"]]


def test_registered_on_the_workflow_engine(client):
    scenario = by_slug("city-report")
    assert scenario in SCENARIOS and scenario.engines == ("workflow",) and scenario.seed_refs == ("G12",)
    assert "city-report" in {s["slug"] for s in client.get("/api/v1/scenarios").get_json()["items"]}


def test_full_flow_report_moderation_routing_answer_rating_hotspot(client, city, clock, session):
    body = file(client, city, text="人行道上堆满建筑垃圾", address="卫零路 100 号门口")
    tid = body["id"]
    assert body["status"] == "submitted" and body["number"].startswith("SSP20261102")
    assert body["moderation_state"] == "pending"  # the photo waits for review
    assert body["org"]["code"] == CITY_OPS and body["dispatch_org"]["code"] == CITY_OPS
    assert body["location"] == {**body["location"], **NEAR_SHIHUA, "address": "卫零路 100 号门口"}
    assert body["sla"]["calendar"] == "business" and body["sla"]["response_due_at"] == "2026-11-02T11:00:00+08:00"
    # Not routed and not public while the content waits.
    assert queue(client, city, "green_sup") == [] and tid in queue(client, city, "ops_staff")
    ticket(client, city, "green_sup", tid, expect=404)
    assert get(client, city, None, HOTSPOTS, **{"from": "2026-11-01", "to": "2026-11-30"})["total"] == 0

    clock.advance(minutes=30)
    clear(client, city, tid)
    routed = ticket(client, city, "green_sup", tid)
    assert routed["moderation_state"] == "visible" and routed["org"]["code"] == GREENING
    assert [e["action"] for e in routed["events"]] == ["create", "moderation_cleared", "route"]
    route = routed["events"][-1]
    assert route["data"]["from_org"] == CITY_OPS and route["data"]["to_org"] == GREENING
    assert route["actor_kind"] == "system" and "区绿化市容局" in route["note"]
    # The department gets its own response target from the routing: 09:30 + 2 working hours.
    assert routed["sla"]["response_due_at"] == "2026-11-02T11:30:00+08:00"
    assert queue(client, city, "green_sup") == [tid] and tid not in queue(client, city, "ops_staff")
    assert tid in queue(client, city, "ops_staff", dispatched="true")  # 城运中心 keeps watching
    assert [m.recipient_id for m in messages(session, tid, "ticket_received")] == [
        str(city.id("ops_sup")), str(city.id("green_sup"))]

    clock.advance(minutes=20)
    acked = act(client, city, "green_staff", tid, "acknowledge")
    assert acked["status"] == "acknowledged" and acked["events"][-1]["data"] == {"late": False}
    clock.advance(hours=3)
    done = act(client, city, "green_staff", tid, "resolve", {"note": "已清运建筑垃圾"})
    assert done["status"] == "resolved"
    mine = ticket(client, city, "alice", tid)
    assert mine["events"][-1]["note"] == "已清运建筑垃圾" and {"confirm", "rate"} <= set(mine["allowed_actions"])
    act(client, city, "alice", tid, "confirm")
    rated = act(client, city, "alice", tid, "rating", {"rating": 5, "comment": "处理得很快"})
    assert (rated["status"], rated["rating"]) == ("closed", 5)

    # The resident was told on WeChat, with a payload that fills the registry's template.
    resolved = messages(session, tid, "ticket_resolved")
    assert [(m.channel, m.recipient_id) for m in resolved] == [("wechat", str(city.id("alice")))]
    data = build_data(load_registry().get("ticket_resolved").wechat, resolved[0].payload)
    assert data["character_string1"]["value"] == done["number"] and data["thing2"]["value"] == "随申拍"

    spots = get(client, city, None, HOTSPOTS, **{"from": "2026-11-01", "to": "2026-11-30"})
    assert spots["total"] == 1 and spots["cell_size_deg"] == 0.01
    assert spots["cells"] == [{"category": "市容环境", "lat": 30.715, "lon": 121.345, "count": 1}]


def test_me_tickets_lists_city_reports(client, city):
    tid = file(client, city)["id"]
    file(client, city, "bob")
    page = get(client, city, "alice", "/api/v1/me/tickets")
    assert [(t["id"], t["scenario"]) for t in page["items"]] == [(tid, "city-report")]
    assert get(client, city, "alice", "/api/v1/me/tickets", scenario="city-report")["total"] == 1


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize("category,location,owner", [
    ("绿化", NEAR_SHIHUA, GREENING),
    ("道路设施", NEAR_SHIHUA, TRANSPORT),
    ("噪声", NEAR_SHANYANG, ECOLOGY),
    ("违章停车", NEAR_SHIHUA, SHIHUA),
    ("占道经营", NEAR_SHANYANG, SHANYANG),
    ("环境卫生", NEAR_SHANYANG, SHANYANG),
    ("其他", NEAR_SHIHUA, CITY_OPS),  # 城运中心 routes it by hand
])
def test_routing_by_category_to_the_bureau_or_the_nearest_town(client, city, category, location, owner):
    tid = file(client, city, category=category, location=location)["id"]
    clear(client, city, tid)
    assert ticket(client, city, "ops_staff", tid)["org"]["code"] == owner
    assert [e.action for e in events(city.session, tid, "route")] == ([] if owner == CITY_OPS else ["route"])


def test_city_ops_reroutes_and_the_new_owner_gets_a_fresh_response_clock(client, city, clock):
    tid = file(client, city, category="违章停车", location=NEAR_SHIHUA)["id"]
    clear(client, city, tid)
    assert ticket(client, city, "shihua_admin", tid)["org"]["code"] == SHIHUA
    act(client, city, "shihua_admin", tid, "acknowledge")
    clock.advance(hours=1)
    moved = act(client, city, "ops_staff", tid, "transfer", {"org": SHANYANG, "note": "位于山阳镇辖区"})
    assert moved["org"]["code"] == SHANYANG and moved["status"] == "submitted" and moved["assignee_account_id"] is None
    assert moved["events"][-1]["action"] == "transfer" and moved["events"][-1]["data"]["to_org"] == SHANYANG
    assert moved["sla"]["response_due_at"] == "2026-11-02T12:00:00+08:00"  # 10:00 + 2 working hours
    assert moved["sla"]["escalation_level"] == 0
    ticket(client, city, "shihua_admin", tid, expect=404)  # gone from the town that had it
    assert queue(client, city, "shanyang_admin") == [tid]
    # The new owner's dispatcher may send it back to 城运中心 (it is theirs to act on, and they
    # then lose sight of it: the answer is their last look, with nothing left to do).
    back = act(client, city, "shanyang_admin", tid, "transfer", {"org": CITY_OPS})
    assert back["org"]["code"] == CITY_OPS and back["allowed_actions"] == []
    ticket(client, city, "shanyang_admin", tid, expect=404)
    assert queue(client, city, "ops_staff") == [tid]


def test_transfer_refusals(client, city):
    pending = file(client, city)["id"]
    body = act(client, city, "ops_staff", pending, "transfer", {"org": GREENING}, expect=409)
    assert body["code"] == "content_pending_review"
    tid = file(client, city)["id"]
    clear(client, city, tid)
    for target in ("no-such-org", "310116001-nc01", GREENING):  # unknown; a committee; where it is already
        body = act(client, city, "ops_staff", tid, "transfer", {"org": target}, expect=422)
        assert body["code"] == "transfer_target_invalid" and "org" in body["errors"]
    assert act(client, city, "alice", tid, "transfer", {"org": SHIHUA}, expect=403)["code"] == "forbidden"
    act(client, city, "green_staff", tid, "transfer", {"org": SHIHUA}, expect=403)  # staff: not a dispatcher
    act(client, city, "eco_sup", tid, "transfer", {"org": SHIHUA}, expect=404)  # not theirs at all
    act(client, city, "green_staff", tid, "assign", {"assignee_account_id": city.id("green_staff")}, expect=403)
    act(client, city, "green_sup", tid, "assign", {"assignee_account_id": city.id("green_staff")})
    body = act(client, city, "ops_staff", tid, "transfer", {"org": SHIHUA}, expect=409)  # assigned: too late
    assert body["code"] == "invalid_transition" and body["current_status"] == "assigned"


# ---------------------------------------------------------------- visibility


@pytest.mark.parametrize("who,expect", [("alice", 200), ("bob", 404), ("green_sup", 200), ("green_staff", 200),
                                        ("eco_sup", 404), ("transport_sup", 404), ("shihua_admin", 404),
                                        ("ops_staff", 200), ("admin", 200)])
def test_who_sees_a_routed_report(client, city, who, expect):
    tid = file(client, city)["id"]
    clear(client, city, tid)
    body = ticket(client, city, who, tid, expect=expect)
    if expect == 200 and who.startswith("ops"):
        assert "transfer" in body["allowed_actions"] and "acknowledge" not in body["allowed_actions"]


def test_only_the_owner_acts_and_city_ops_dispatches(client, city):
    tid = file(client, city)["id"]
    clear(client, city, tid)
    act(client, city, "ops_staff", tid, "acknowledge", expect=403)  # 城运中心 routes, the department answers
    act(client, city, "admin", tid, "acknowledge", expect=403)
    act(client, city, "eco_sup", tid, "acknowledge", expect=404)
    rejected = act(client, city, "ops_staff", tid, "reject", {"reason": "重复反映，已在处理"})
    assert rejected["status"] == "rejected"


# ---------------------------------------------------------------- bad input


def test_outside_the_district_is_422_naming_the_field(client, city, session):
    for point in ({"lat": 31.2304, "lon": 121.4737}, {"lat": 30.60, "lon": 121.35}):  # 人民广场; Hangzhou Bay
        body = file(client, city, location=point, expect=422)
        assert body["code"] == "outside_district" and "location" in body["errors"]
    assert file(client, city, location={"lat": 91, "lon": 121.3}, expect=422)["errors"]["location.lat"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.scenario == "city-report")) == 0


def test_photo_required_own_uploads_only_and_known_category(client, city):
    body = post(client, city, "alice", f"{BASE}/tickets", {"category": "绿化", "text": "树倒了",
                                                           "location": NEAR_SHIHUA}, expect=422)
    assert body["code"] == "validation_error" and "photos" in body["errors"]
    body = post(client, city, "alice", f"{BASE}/tickets", {"category": "绿化", "text": "树倒了",
                                                           "location": NEAR_SHIHUA, "photos": [photo(city, "bob")]},
                expect=422)
    assert "photos" in body["errors"]
    body = file(client, city, category="外星人", expect=422)
    assert body["code"] == "unknown_category" and "category" in body["errors"]
    assert {"location.lat", "location.lon"} <= set(file(client, city, location={}, expect=422)["errors"])
    assert post(client, city, "ops_staff", f"{BASE}/tickets", {}, expect=403)["code"] == "forbidden"


def test_text_failing_moderation_is_refused_and_nothing_is_kept(client, city, session):
    body = file(client, city, text="这里有人聚众赌博", expect=422)
    assert body["code"] == "content_rejected" and "text" in body["errors"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.scenario == "city-report")) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ModerationItem).where(
        ModerationItem.subject_type == "wf_ticket")) == 0


def test_photo_rejected_by_staff_rejects_the_report(client, city, session):
    tid = file(client, city)["id"]
    clear(client, city, tid, decision="reject")
    mine = ticket(client, city, "alice", tid)
    assert (mine["status"], mine["moderation_state"], mine["org"]["code"]) == ("rejected", "hidden", CITY_OPS)
    assert mine["events"][-1]["action"] == "moderation_rejected"
    assert [(m.channel, m.recipient_id) for m in messages(session, tid, "content_rejected")] == [
        ("wechat", str(city.id("alice")))]
    assert not events(session, tid, "route")
    assert get(client, city, None, HOTSPOTS, **{"from": "2026-11-02", "to": "2026-11-02"})["total"] == 0


# ---------------------------------------------------------------- hot spots


def test_hotspots_count_only_cleared_reports_per_category_and_cell(client, city, clock):
    a = file(client, city, category="绿化", location={"lat": 30.7153, "lon": 121.3427})["id"]
    b = file(client, city, "bob", category="绿化", location={"lat": 30.7191, "lon": 121.3409})["id"]  # same cell
    c = file(client, city, category="噪声", location=NEAR_SHANYANG)["id"]
    file(client, city, category="绿化")  # pending: not counted
    d = file(client, city, "bob", category="绿化")["id"]  # cleared, then rejected by 城运中心: not counted
    for tid in (a, b, c, d):
        clear(client, city, tid)
    act(client, city, "ops_staff", d, "reject", {"reason": "非城市管理问题"})
    clock.advance(days=3)
    file(client, city, category="绿化")
    spots = get(client, city, None, HOTSPOTS, **{"from": "2026-11-02", "to": "2026-11-02"})
    assert spots["total"] == 3
    assert spots["cells"] == [{"category": "绿化", "lat": 30.715, "lon": 121.345, "count": 2},
                              {"category": "噪声", "lat": 30.765, "lon": 121.355, "count": 1}]
    only = get(client, city, None, HOTSPOTS, **{"from": "2026-11-02", "to": "2026-11-02", "category": "噪声"})
    assert only["total"] == 1 and only["category"] == "噪声"
    assert get(client, city, None, HOTSPOTS, **{"from": "2026-11-03", "to": "2026-11-30"})["total"] == 0
    # Nothing personal: cells carry a category, a centre and a count.
    text = str(spots)
    assert all(set(cell) == {"category", "lat", "lon", "count"} for cell in spots["cells"])
    assert "30.7153" not in text and "SSP" not in text and "alice" not in text


def test_hotspots_bad_input(client, city):
    def bad(**params):
        resp = client.get(HOTSPOTS, query_string=params)
        assert resp.status_code == 422, resp.get_json()
        return resp.get_json()

    assert "category" in bad(category="外星人")["errors"]
    assert "from" in bad(**{"from": "2026-11-30", "to": "2026-11-01"})["errors"]
    assert "from" in bad(**{"from": "2025-01-01", "to": "2026-11-01"})["errors"]
    assert "to" in bad(to="yesterday")["errors"]
    resp = client.get(HOTSPOTS)  # defaults: the last 30 days
    assert resp.status_code == 200 and resp.get_json()["to"] == "2026-11-02" and resp.get_json()["from"] == "2026-10-04"
    assert resp.headers["Cache-Control"] == "public, max-age=300"


# ---------------------------------------------------------------- escalation


def test_escalation_reaches_city_ops_at_level_two(client, city, clock, db, session):
    tid = file(client, city)["id"]
    clear(client, city, tid)  # routed at 09:00 to 区绿化市容局: response due 11:00
    clock.advance(hours=2, seconds=1)
    run_worker(db, clock)
    assert ticket_row(session, tid).escalation_level == 1
    assert {m.recipient_id for m in messages(session, tid, "ticket_escalated")} == {str(city.id("green_sup"))}
    clock.advance(hours=2)
    run_worker(db, clock)
    assert ticket_row(session, tid).escalation_level == 2
    told = {m.recipient_id for m in messages(session, tid, "ticket_escalated") if m.channel == "wecom"}
    assert told == {str(city.id("green_sup")), str(city.id("ops_sup"))}
    escalated = get(client, city, "ops_sup", f"{BASE}/escalated")["items"]
    assert [t["id"] for t in escalated] == [tid]


def test_demo_data_loads_twice_without_change(app, db, clock):
    from app.models import metadata
    from scenarios.city_report.demo import load

    def counts(s):
        return {t.name: s.scalar(sa.select(sa.func.count()).select_from(t)) for t in metadata.sorted_tables}

    with app.app_context():
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            first = counts(s)
            rows = s.execute(sa.select(Ticket.status, Ticket.moderation_state, Ticket.org_id)
                             .where(Ticket.scenario == "city-report")).all()
        clock.advance(minutes=5)
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            assert counts(s) == first
    statuses = {r.status for r in rows}
    assert {"submitted", "acknowledged", "resolved", "closed"} <= statuses
    assert {r.moderation_state for r in rows} >= {"visible", "pending"}
    assert len({r.org_id for r in rows}) >= 4  # 城运中心, bureaus and towns


def test_the_answer_of_create_is_the_ticket_as_read_back(client, city):
    """A report waiting for review (its photo): the 201 is what a GET gives."""
    for body in (file(client, city), file(client, city, location=NEAR_SHANYANG, category="绿化",
                                           text="行道树倒伏")):
        read = get(client, city, "alice", f"{BASE}/tickets/{body['id']}")
        assert {k: v for k, v in body.items() if k not in ("possible_duplicates", "similar_report")} == read
