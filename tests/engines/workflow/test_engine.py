"""The engine beyond one scenario: the staff queue and its filters, supervisors' escalated list,
stats, ``/api/v1/me/tickets`` across scenarios, duplicates by distance, transition tables."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auth.principal import Principal
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.config import Placement, WorkflowConfig, register
from scenarios.engines.workflow.stats import percentile
from scenarios.engines.workflow.transitions import Transition, TransitionTable, default_table
from tests.support.workflow import act, get, report

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


# A second workflow scenario, configured only for these tests: reports by coordinates,
# owned by the first town of the test world (passed in ``data``), with a table of its own.
def _locate(session, *, clock, principal, data) -> Placement:
    return Placement(org=data["org"], lat=data["lat"], lon=data["lon"], address="测试路")


CITY = register(WorkflowConfig(
    slug="test-city-report", title_zh="测试随手拍", number_prefix="TC", categories=("道路", "绿化"),
    locate=_locate, handler_roles=("admin", "staff"), dispatcher_roles=("admin",), duplicate_radius_m=50,
    transitions=TransitionTable([
        Transition("acknowledge", frozenset({"submitted"}), "acknowledged", frozenset({"admin", "staff"}),
                   responds=True),
        Transition("resolve", frozenset({"acknowledged"}), "resolved", frozenset({"admin", "staff"})),
        Transition("confirm", frozenset({"resolved"}), "closed", frozenset({"reporter"})),
    ]),
))


def city_ticket(wf, who: str, *, lat: float = 30.74, lon: float = 121.34, category: str = "道路"):
    account = wf.accounts[who]
    principal = Principal("resident", account_id=account.id, person_id=account.person_id)
    created = svc.create(wf.session, clock=wf.clock, principal=principal, config=CITY, data={
        "category": category, "text": "路面塌陷", "lat": lat, "lon": lon, "org": wf.world.towns[0]})
    wf.session.commit()
    return created


def at(wf, clock, minutes: float) -> None:
    clock.set(datetime(2026, 11, 2, 1, 0, tzinfo=UTC) + timedelta(minutes=minutes))


# ---------------------------------------------------------------- the queue


def test_queue_sorted_by_deadline_with_filters(client, wf, clock):
    t1 = report(client, wf, "alice", category="水电")["id"]  # due 09:30
    at(wf, clock, 10)
    t2 = report(client, wf, "alice2", category="电梯", text="电梯停了")["id"]  # due 09:40
    at(wf, clock, 20)
    t3 = report(client, wf, "alice", category="门窗", text="门坏了")["id"]  # due 09:50, then acknowledged
    act(client, wf, "manager_a", t3, "assign", {"assignee_account_id": wf.id("tech_a")})
    t4 = report(client, wf, "bob")["id"]  # company B
    at(wf, clock, 35)

    def ids(who="manager_a", **params):
        return [i["id"] for i in get(client, wf, who, "queue", **params)["items"]]

    assert ids() == [t1, t2, t3]  # t3's deadline is now its resolution target, tomorrow
    assert ids("tech_a") == [t1, t2, t3] and ids("manager_b") == [t4]
    assert ids(overdue="true") == [t1]
    assert ids(overdue="false") == [t2, t3]
    assert ids(due_within_minutes=10) == [t2]
    assert ids(due_soon="true") == [t2]  # the scenario's window: 10 minutes
    assert ids(category="电梯") == [t2]
    assert ids(status="assigned") == [t3]
    assert ids(status=["submitted", "assigned"]) == [t1, t2, t3]
    assert ids(community=wf.world.community.code) == [t1, t2, t3]
    assert ids(community=wf.world.community2.code) == [] and ids(community="nope") == []
    assert ids("tech_a", assignee="me") == [t3]
    page = get(client, wf, "manager_a", "queue", page_size=2, page=2)
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == [t3]
    first = get(client, wf, "manager_a", "queue")["items"][0]
    assert first["overdue"] is True and first["org"]["code"] == wf.world.companies[0].code
    assert first["location"]["building"] == "1" and "reporter" not in first

    act(client, wf, "tech_a", t3, "request-info", {"note": "何时在家"})
    assert ids() == [t1, t2, t3]  # paused: no deadline, last
    act(client, wf, "manager_a", t1, "resolve", {"note": "好了"})
    assert ids() == [t2, t3] and ids(status="resolved") == [t1]
    assert get(client, wf, "manager_a", "queue", status="bogus", expect=422)["code"] == "validation_error"
    assert get(client, wf, "manager_a", "queue", assignee="x", expect=422)["errors"]["assignee"]
    assert get(client, wf, "alice", "queue", expect=403)["code"] == "forbidden"
    assert ids("supervisor") == []  # the bureau owns no tickets itself


def test_escalated_lists_every_supervised_company(client, wf, clock, db):
    from tests.support.workflow import run_worker

    a = report(client, wf, "alice")["id"]
    b = report(client, wf, "bob")["id"]
    fine = report(client, wf, "alice2")["id"]
    act(client, wf, "manager_a", fine, "acknowledge")
    clock.advance(minutes=31)
    run_worker(db, clock)
    page = get(client, wf, "supervisor", "escalated")
    assert sorted(i["id"] for i in page["items"]) == sorted([a, b])
    only_b = get(client, wf, "supervisor", "escalated", org=wf.world.companies[1].code)
    assert [i["id"] for i in only_b["items"]] == [b]
    act(client, wf, "manager_b", b, "resolve", {"note": "修好"})
    assert [i["id"] for i in get(client, wf, "supervisor", "escalated")["items"]] == [a]
    assert sorted(i["id"] for i in get(client, wf, "supervisor", "escalated", include_closed="true")["items"]) \
        == sorted([a, b])
    for who in ("manager_a", "bureau_staff", "alice"):
        assert get(client, wf, who, "escalated", expect=403)["code"] == "forbidden"


# ---------------------------------------------------------------- stats


def test_percentiles():
    assert percentile([], 50) is None
    assert percentile([7], 90) == 7
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 11)), 90) == pytest.approx(9.1)
    assert percentile([10, 1, 5], 50) == 5


def test_stats_per_company_for_a_date_range(client, wf, clock, db):
    from tests.support.workflow import run_worker

    # Yesterday: outside the range.
    clock.set(datetime(2026, 11, 1, 3, 0, tzinfo=UTC))
    old = report(client, wf, "alice")["id"]
    act(client, wf, "manager_a", old, "acknowledge")
    # Company A today: responses after 5, 10, 20 and 40 minutes (the last one late); one unanswered.
    responses = [5, 10, 20, 40]
    base = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    ids = []
    for i, after in enumerate(responses):
        clock.set(base + timedelta(hours=i))
        tid = report(client, wf, "alice" if i % 2 == 0 else "alice2")["id"]
        clock.advance(minutes=after)
        act(client, wf, "manager_a", tid, "acknowledge")
        ids.append(tid)
    act(client, wf, "manager_a", ids[0], "resolve", {"note": "好"})
    act(client, wf, "alice", ids[0], "rating", {"rating": 5})
    act(client, wf, "manager_a", ids[1], "resolve", {"note": "好"})
    act(client, wf, "alice2", ids[1], "rating", {"rating": 2})
    act(client, wf, "manager_a", ids[2], "reject", {"reason": "非物业范围"})
    clock.set(base + timedelta(hours=6))
    unanswered = report(client, wf, "alice")["id"]
    clock.advance(hours=1)
    run_worker(db, clock)
    # Company B: one ticket answered after 3 minutes.
    b = report(client, wf, "bob")["id"]
    clock.advance(minutes=3)
    act(client, wf, "manager_b", b, "acknowledge")

    body = get(client, wf, "supervisor", "stats", **{"from": "2026-11-02", "to": "2026-11-02"})
    assert body["from"] == "2026-11-02"
    by_code = {o["org_code"]: o for o in body["organisations"]}
    a = by_code[wf.world.companies[0].code]
    assert (a["total"], a["open"], a["resolved"], a["rejected"], a["responded"]) == (5, 2, 2, 1, 4)
    assert a["first_response_median_seconds"] == 15 * 60  # of 5, 10, 20, 40 minutes
    assert a["first_response_p90_seconds"] == pytest.approx(34 * 60)  # 20 + 0.7 × 20 minutes
    assert a["breach_rate"] == pytest.approx(2 / 5)  # the 40-minute answer and the unanswered one
    assert (a["rated"], a["average_rating"]) == (2, 3.5)
    b_stats = by_code[wf.world.companies[1].code]
    assert (b_stats["total"], b_stats["first_response_median_seconds"], b_stats["breach_rate"]) == (1, 180, 0)
    assert unanswered and old

    mine = get(client, wf, "manager_a", "stats", **{"from": "2026-11-01", "to": "2026-11-02"})
    assert [o["org_code"] for o in mine["organisations"]] == [wf.world.companies[0].code]
    assert mine["organisations"][0]["total"] == 6
    one = get(client, wf, "supervisor", "stats", **{"from": "2026-11-02", "to": "2026-11-02",
                                                     "org": wf.world.companies[1].code})
    assert [o["total"] for o in one["organisations"]] == [1]
    get(client, wf, "supervisor", "stats", expect=404, **{"from": "2026-11-02", "to": "2026-11-02", "org": "nope"})
    assert get(client, wf, "tech_a", "stats", expect=403, **{"from": "2026-11-02", "to": "2026-11-02"})
    bad = get(client, wf, "manager_a", "stats", expect=422, **{"from": "2026-11-03", "to": "2026-11-02"})
    assert "to" in bad["errors"]
    assert get(client, wf, "manager_a", "stats", expect=422, **{"from": "2026-11-03"})["errors"]["to"]


# ---------------------------------------------------------------- across scenarios


def test_me_tickets_across_every_workflow_scenario(client, wf, clock):
    repair = report(client, wf, "alice")["id"]
    clock.advance(minutes=1)
    city = city_ticket(wf, "alice").ticket
    city_ticket(wf, "bob")
    page = get(client, wf, "alice", "/api/v1/me/tickets")
    assert [(i["scenario"], i["id"]) for i in page["items"]] == [
        ("test-city-report", city.id), ("wf-test", repair)]
    assert page["items"][0]["number"].startswith("TC") and page["items"][0]["location"]["lat"] == 30.74
    only = get(client, wf, "alice", "/api/v1/me/tickets", scenario="wf-test")
    assert [i["id"] for i in only["items"]] == [repair]
    act(client, wf, "manager_a", repair, "resolve", {"note": "好"})
    act(client, wf, "alice", repair, "confirm")
    assert [i["id"] for i in get(client, wf, "alice", "/api/v1/me/tickets", open="true")["items"]] == [city.id]
    assert get(client, wf, "manager_a", "/api/v1/me/tickets", expect=403)
    # A ticket of another scenario is not reachable under property-repair's URLs.
    assert get(client, wf, "alice", f"tickets/{city.id}", expect=404)


def test_duplicates_within_a_radius_for_coordinate_tickets(wf):
    first = city_ticket(wf, "alice", lat=30.740000, lon=121.340000)
    near = city_ticket(wf, "bob", lat=30.740300, lon=121.340000)  # about 33 m north
    far = city_ticket(wf, "alice2", lat=30.742000, lon=121.340000)  # about 220 m
    other = city_ticket(wf, "alice2", lat=30.740000, lon=121.340000, category="绿化")
    assert first.similar_open is None and near.similar_open == "nearby"
    assert far.similar_open is None and other.similar_open is None


def test_a_scenario_may_bring_its_own_table(wf):
    created = city_ticket(wf, "alice").ticket
    staff = Principal("staff", account_id=wf.id("admin"), org_id=wf.world.towns[0].id, org_type="town", role="admin")
    with pytest.raises(Exception) as err:
        svc.transition(wf.session, clock=wf.clock, principal=staff, config=CITY, ticket_id=created.id, action="start")
    assert err.value.code == "not_found"  # no such action in this scenario
    with pytest.raises(Exception) as err:
        svc.transition(wf.session, clock=wf.clock, principal=staff, config=CITY, ticket_id=created.id,
                       action="resolve")
    assert err.value.code == "invalid_transition" and err.value.detail["current_status"] == "submitted"
    svc.transition(wf.session, clock=wf.clock, principal=staff, config=CITY, ticket_id=created.id,
                   action="acknowledge")
    assert created.status == "acknowledged"
    # The district reaches the town's ticket, but sees it only: not a member.
    district = Principal("staff", account_id=wf.id("admin"), org_id=wf.world.district.id, org_type="district",
                         role="admin")
    with pytest.raises(Exception) as err:
        svc.transition(wf.session, clock=wf.clock, principal=district, config=CITY, ticket_id=created.id,
                       action="resolve")
    assert err.value.code == "forbidden"


def test_transition_tables_are_checked():
    with pytest.raises(ValueError, match="unknown statuses"):
        Transition("x", frozenset({"nowhere"}), "closed", frozenset({"reporter"}))
    with pytest.raises(ValueError, match="previous state"):
        Transition("x", frozenset({"submitted"}), None, frozenset({"reporter"}))
    t = Transition("x", frozenset({"submitted"}), "closed", frozenset({"reporter"}))
    with pytest.raises(ValueError, match="twice"):
        TransitionTable([t, t])
    table = default_table(dispatchers=("manager",), handlers=("technician",))
    assert table.available("submitted", {"technician"}) == ["acknowledge", "resolve"]
    assert set(table.available("submitted", {"manager"})) == {
        "acknowledge", "assign", "resolve", "reject", "mark_duplicate"}
    assert table.available("resolved", {"reporter"}) == ["confirm", "reopen"]
    assert table["request_info"].pauses and table["resume"].resumes and table["acknowledge"].responds
