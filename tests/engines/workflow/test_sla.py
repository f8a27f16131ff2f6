"""Due times: 24/7 and the business calendar (working hours, holidays, 调休); pause and resume;
SLA policies as versioned data (API and CLI); a change applies to tickets created after."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.calendar import Calendar, CalendarDay, expand, load_calendar_days
from app.fields import CST
from scenarios.engines.workflow.models import SlaPolicy
from scenarios.engines.workflow.sla import calendar_for
from tests.support.workflow import act, get, report, ticket_row, timers_of

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

POLICIES = "/api/v1/admin/sla-policies"


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


@pytest.fixture
def business() -> Calendar:
    days = expand()
    return Calendar("business", 9 * 60, 17 * 60,
                    holidays=frozenset(d["day"] for d in days if d["kind"] == "holiday"),
                    workdays=frozenset(d["day"] for d in days if d["kind"] == "workday"))


def test_24x7_adds_plain_time():
    cal = Calendar("24x7")
    start = cst(2026, 10, 1, 23, 50)
    assert cal.add(start, 30 * 60) == cst(2026, 10, 2, 0, 20)
    assert cal.add(start, 30 * 60).tzinfo == UTC
    assert cal.seconds_between(start, cst(2026, 10, 2, 0, 20)) == 1800
    assert cal.seconds_between(cst(2026, 10, 2, 0, 20), start) == -1800


@pytest.mark.parametrize("start,minutes,due", [
    # Within the day; at the end of the day exactly; spilling into the next working day.
    (cst(2026, 11, 2, 10, 0), 60, cst(2026, 11, 2, 11, 0)),
    (cst(2026, 11, 2, 16, 0), 60, cst(2026, 11, 2, 17, 0)),
    (cst(2026, 11, 2, 16, 30), 60, cst(2026, 11, 3, 9, 30)),
    # Before opening starts at opening; after closing counts from the next morning.
    (cst(2026, 11, 2, 7, 0), 30, cst(2026, 11, 2, 9, 30)),
    (cst(2026, 11, 2, 20, 0), 30, cst(2026, 11, 3, 9, 30)),
    # An ordinary weekend is skipped.
    (cst(2026, 11, 6, 16, 30), 60, cst(2026, 11, 9, 9, 30)),
    (cst(2026, 11, 8, 10, 0), 30, cst(2026, 11, 9, 9, 30)),
    # 国庆节: 1–7 October off; Sunday 20 September and Saturday 10 October are working days.
    (cst(2026, 9, 30, 16, 30), 60, cst(2026, 10, 8, 9, 30)),
    (cst(2026, 10, 9, 16, 30), 60, cst(2026, 10, 10, 9, 30)),
    (cst(2026, 9, 19, 12, 0), 30, cst(2026, 9, 20, 9, 30)),
    # 春节: Saturday 14 February works, 15–23 February off.
    (cst(2026, 2, 13, 16, 0), 120, cst(2026, 2, 14, 10, 0)),
    (cst(2026, 2, 14, 16, 0), 120, cst(2026, 2, 24, 10, 0)),
    # 元旦 1–3 January off, Sunday 4 January works.
    (cst(2025, 12, 31, 16, 0), 8 * 60, cst(2026, 1, 4, 16, 0)),
    # Several days of working time.
    (cst(2026, 11, 2, 9, 0), 3 * 8 * 60, cst(2026, 11, 4, 17, 0)),
])
def test_business_calendar_due_times(business, start, minutes, due):
    assert business.add(start, minutes * 60) == due.astimezone(UTC)


def test_business_seconds_between_skips_nights_weekends_and_holidays(business):
    assert business.seconds_between(cst(2026, 9, 30, 16, 0), cst(2026, 10, 8, 10, 0)) == 7200
    assert business.seconds_between(cst(2026, 11, 6, 16, 0), cst(2026, 11, 9, 9, 30)) == 5400
    assert business.seconds_between(cst(2026, 11, 7, 10, 0), cst(2026, 11, 8, 10, 0)) == 0  # a weekend
    assert business.seconds_between(cst(2026, 11, 3, 9, 30), cst(2026, 11, 2, 16, 30)) == -3600


def test_business_add_is_additive_and_inverse_of_seconds_between(business):
    rng = random.Random(2026)
    for _ in range(300):
        start = cst(2026, 1, 1) + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        a, b = rng.randrange(1, 3000) * 60, rng.randrange(1, 3000) * 60
        assert business.add(business.add(start, a), b) == business.add(start, a + b)
        assert business.seconds_between(start, business.add(start, a)) == a


def test_a_calendar_without_working_time_is_an_error():
    class Never(Calendar):
        def is_working_day(self, day) -> bool:
            return False

    with pytest.raises(ValueError, match="no working time"):
        Never("business").add(cst(2026, 11, 2, 9), 60)
    assert Never("business").add(cst(2026, 11, 2, 9), 0) == cst(2026, 11, 2, 9)  # nothing to add


def test_calendar_days_load_idempotently_and_feed_the_policy_calendar(session):
    assert load_calendar_days(session) == len(expand())
    assert load_calendar_days(session) == 0
    day = session.get(CalendarDay, datetime(2026, 10, 10).date())
    assert (day.kind, day.name) == ("workday", "国庆节调休")
    policy = SlaPolicy(scenario="x", category=None, response_minutes=60, calendar="business",
                       work_start_minute=8 * 60, work_end_minute=12 * 60, active=True,
                       created_at=datetime(2026, 1, 1, tzinfo=UTC))
    cal = calendar_for(session, policy)
    assert not cal.is_working_day(datetime(2026, 10, 1).date()) and cal.is_working_day(datetime(2026, 10, 10).date())
    assert cal.add(cst(2026, 10, 9, 11, 30), 60 * 60) == cst(2026, 10, 10, 8, 30).astimezone(UTC)


# ---------------------------------------------------------------- pause and resume


def set_business_policy(client, wf, category: str = "门窗") -> dict:
    resp = client.put(POLICIES, json={"scenario": "wf-test", "category": category, "response_minutes": 60,
                                      "resolution_minutes": 480, "calendar": "business"}, headers=wf.token("admin"))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_pause_stores_the_remaining_working_time_and_resume_reschedules(client, wf, clock, session):
    load_calendar_days(session)
    session.commit()
    set_business_policy(client, wf)
    clock.set(cst(2026, 10, 9, 16, 0).astimezone(UTC))  # Friday before the 调休 Saturday
    body = report(client, wf, category="门窗", text="窗户关不上")
    tid = body["id"]
    assert body["sla"]["calendar"] == "business"
    assert body["sla"]["response_due_at"] == "2026-10-09T17:00:00+08:00"
    assert body["sla"]["resolution_due_at"] == "2026-10-10T16:00:00+08:00"  # 1 h Friday + 7 h Saturday
    assert timers_of(session, tid)[("workflow.response", 2)][1] == cst(2026, 10, 10, 10, 0)  # twice the target

    clock.set(cst(2026, 10, 9, 16, 10).astimezone(UTC))
    act(client, wf, "manager_a", tid, "acknowledge")
    clock.set(cst(2026, 10, 9, 16, 30).astimezone(UTC))
    paused = act(client, wf, "tech_a", tid, "request-info", {"note": "请拍一张窗框的照片"})
    assert paused["status"] == "awaiting_reporter" and paused["sla"]["due_at"] is None
    row = ticket_row(session, tid)
    assert row.resolution_remaining_seconds == 450 * 60 and row.paused_from_status == "acknowledged"
    assert timers_of(session, tid)[("workflow.resolution", 1)][0] == "cancelled"

    clock.set(cst(2026, 10, 12, 10, 0).astimezone(UTC))  # Monday (Sunday is not a working day)
    resumed = act(client, wf, "tech_a", tid, "resume")
    assert resumed["status"] == "acknowledged" and resumed["sla"]["paused_at"] is None
    assert resumed["sla"]["resolution_due_at"] == "2026-10-13T09:30:00+08:00"  # 7 h Monday + 30 min Tuesday
    state, due = timers_of(session, tid)[("workflow.resolution", 1)]
    assert state == "pending" and due == cst(2026, 10, 13, 9, 30)
    assert ticket_row(session, tid).resolution_remaining_seconds is None


def test_pause_and_resume_on_24x7(client, wf, clock, session):
    tid = report(client, wf)["id"]  # resolution due 24 h after 09:00
    act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a")})
    clock.advance(hours=2)
    act(client, wf, "tech_a", tid, "request-info", {"note": "家里几点有人？"})
    assert ticket_row(session, tid).resolution_remaining_seconds == 22 * 3600
    clock.advance(hours=30)
    resumed = act(client, wf, "alice", tid, "comments", {"text": "晚上七点后"})
    assert resumed["status"] == "assigned"
    assert resumed["sla"]["resolution_due_at"] == "2026-11-04T15:00:00+08:00"  # 32 h later + 22 h left


# ---------------------------------------------------------------- policies as data


def test_policy_change_applies_to_tickets_created_after(client, wf, clock, session):
    before = report(client, wf)
    resp = client.put(POLICIES, json={"scenario": "wf-test", "response_minutes": 10,
                                      "resolution_minutes": 120}, headers=wf.token("admin"))
    assert resp.status_code == 200, resp.get_json()
    new = resp.get_json()
    assert (new["response_minutes"], new["category"], new["active"]) == (10, None, True)
    after = report(client, wf, "alice2")
    assert after["sla"]["response_minutes"] == 10 and after["sla"]["policy_id"] == new["id"]
    assert after["sla"]["response_due_at"] == "2026-11-02T09:10:00+08:00"
    old = get(client, wf, "alice", f"tickets/{before['id']}")
    assert old["sla"]["response_minutes"] == 30 and old["sla"]["response_due_at"] == "2026-11-02T09:30:00+08:00"
    assert old["sla"]["policy_id"] != new["id"]
    assert timers_of(session, before["id"])[("workflow.response", 1)][1] == clock.now() + timedelta(minutes=30)

    listed = get(client, wf, "admin", POLICIES, scenario="wf-test")["items"]
    assert [(p["category"], p["response_minutes"]) for p in listed] == [(None, 10)]
    history = get(client, wf, "admin", POLICIES, scenario="wf-test", include_inactive="true")["items"]
    assert sorted((p["response_minutes"], p["active"]) for p in history) == [(10, True), (30, False)]


def test_category_policy_beats_the_default(client, wf):
    resp = client.put(POLICIES, json={"scenario": "wf-test", "category": "电梯", "response_minutes": 15},
                      headers=wf.token("admin"))
    assert resp.status_code == 200
    assert report(client, wf, category="电梯", text="电梯困人")["sla"]["response_minutes"] == 15
    assert report(client, wf, category="水电")["sla"]["response_minutes"] == 30


def test_policies_before_any_ticket_show_the_built_in_default(client, wf):
    items = get(client, wf, "admin", POLICIES)["items"]
    assert {"scenario": "wf-test", "category": None, "response_minutes": 30, "resolution_minutes": 1440,
            "calendar": "24x7", "id": None, "active": True, "work_start_minute": 540, "work_end_minute": 1020,
            "created_at": None} in items


@pytest.mark.parametrize("body,code,field", [
    ({"scenario": "nope", "response_minutes": 5}, "validation_error", "scenario"),
    ({"scenario": "wf-test", "category": "装修", "response_minutes": 5}, "unknown_category", "category"),
    ({"scenario": "wf-test", "response_minutes": 0}, "validation_error", "response_minutes"),
    ({"scenario": "wf-test", "response_minutes": 5, "calendar": "lunar"}, "validation_error", "calendar"),
    ({"scenario": "wf-test", "response_minutes": 5, "calendar": "business", "work_start_minute": 1000,
      "work_end_minute": 900}, "validation_error", "work_start_minute"),
])
def test_policy_bad_input(client, wf, body, code, field):
    resp = client.put(POLICIES, json=body, headers=wf.token("admin"))
    assert resp.status_code == 422 and resp.get_json()["code"] == code and field in resp.get_json()["errors"]


@pytest.mark.parametrize("who", ["manager_a", "supervisor", "alice"])
def test_only_district_admins_manage_policies(client, wf, who):
    resp = client.put(POLICIES, json={"scenario": "wf-test", "response_minutes": 5}, headers=wf.token(who))
    assert resp.status_code == 403
    assert client.get(POLICIES, headers=wf.token(who)).status_code == 403
    assert client.get(POLICIES).status_code == 401


def test_cli_set_policy(app, wf, session):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["sla", "set-policy", "--scenario", "wf-test", "--category", "电梯",
                              "--response-minutes", "15", "--resolution-minutes", "240"])
    assert out.exit_code == 0, out.output
    assert "response 15 min" in out.output
    session.expire_all()
    row = session.scalar(sa.select(SlaPolicy).where(SlaPolicy.category == "电梯", SlaPolicy.active.is_(True)))
    assert (row.response_minutes, row.resolution_minutes, row.calendar) == (15, 240, "24x7")
    bad = runner.invoke(args=["sla", "set-policy", "--scenario", "wf-test", "--category", "装修",
                              "--response-minutes", "15"])
    assert bad.exit_code != 0 and "unknown_category" in bad.output
    assert runner.invoke(args=["sla", "set-policy", "--scenario", "nope", "--response-minutes", "1"]).exit_code != 0
    listed = runner.invoke(args=["sla", "list"])
    assert "wf-test\t电梯\t15\t240\t24x7" in listed.output


@pytest.fixture
def sla_cache(app):
    """The app's cache of new tickets' terms switched on (as in production), on a clock the
    test moves: ``sla_cache["t"]`` seconds."""
    import time

    from scenarios.engines.workflow.policies import CACHE_KEY

    cache = app.extensions[CACHE_KEY]
    moment = {"t": 0.0}
    cache.ttl, cache.now = 30.0, lambda: moment["t"]
    cache.invalidate()
    yield moment
    cache.ttl, cache.now = 0.0, time.monotonic
    cache.invalidate()  # the test's rows are rolled back


def _put_policy(client, wf, **body) -> dict:
    resp = client.put(POLICIES, json={"scenario": "wf-test", **body}, headers=wf.token("admin"))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_with_the_cache_a_policy_set_here_applies_to_the_next_ticket(client, wf, sla_cache):
    first = _put_policy(client, wf, response_minutes=40)
    assert report(client, wf)["sla"]["policy_id"] == first["id"]
    assert report(client, wf, "alice2")["sla"]["policy_id"] == first["id"]  # now kept
    category = _put_policy(client, wf, category="水电", response_minutes=12)
    after = report(client, wf)
    assert (after["sla"]["policy_id"], after["sla"]["response_minutes"]) == (category["id"], 12)
    assert report(client, wf, category="门窗")["sla"]["policy_id"] == first["id"]


def test_with_the_cache_a_change_from_another_process_applies_within_the_ttl(client, wf, session, clock,
                                                                            sla_cache):
    first = _put_policy(client, wf, response_minutes=40)
    assert report(client, wf)["sla"]["response_minutes"] == 40
    # Another process (``flask sla set-policy``, another worker) changes it: not seen here...
    session.execute(sa.update(SlaPolicy).where(SlaPolicy.id == first["id"]).values(active=False))
    other = SlaPolicy(scenario="wf-test", category=None, response_minutes=20, resolution_minutes=None,
                      calendar="24x7", active=True, created_at=clock.now())
    session.add(other)
    session.commit()
    sla_cache["t"] = 29.0
    assert report(client, wf)["sla"]["policy_id"] == first["id"]
    # ...until the kept terms are SLA_CACHE_SECONDS old.
    sla_cache["t"] = 30.0
    assert report(client, wf)["sla"]["policy_id"] == other.id


def test_with_the_cache_new_calendar_days_apply_to_the_next_ticket(client, wf, session, sla_cache):
    _put_policy(client, wf, response_minutes=60, calendar="business")
    assert report(client, wf)["sla"]["response_due_at"] == "2026-11-02T10:00:00+08:00"  # Monday 09:00
    assert load_calendar_days(session, [{"day": cst(2026, 11, 2, 0, 0).date(), "kind": "holiday",
                                         "name": "测试假日"}]) == 1
    session.commit()
    assert report(client, wf)["sla"]["response_due_at"] == "2026-11-03T10:00:00+08:00"


def test_the_cache_setting_is_per_app():
    from types import SimpleNamespace

    from app.config import Settings
    from scenarios.engines.workflow.policies import CACHE_KEY, setup

    def built(settings: Settings) -> float:
        app = SimpleNamespace(extensions={"settings": settings})
        setup(app)
        return app.extensions[CACHE_KEY].ttl

    assert built(Settings(app_env="production", extra={})) == 30
    assert built(Settings(app_env="production", extra={"SLA_CACHE_SECONDS": "5"})) == 5
    assert built(Settings(app_env="test", extra={})) == 0
    with pytest.raises(ValueError, match="SLA_CACHE_SECONDS"):
        built(Settings(app_env="production", extra={"SLA_CACHE_SECONDS": "soon"}))


def test_an_app_built_for_the_spec_leaves_the_test_app_without_a_cache(app):
    from app.cli import render_spec
    from scenarios.engines.workflow.policies import CACHE_KEY

    render_spec()  # builds a development app (SLA_CACHE_SECONDS 30) in this process
    assert app.extensions[CACHE_KEY].ttl == 0
