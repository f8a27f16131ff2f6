"""hotline-12345 (12345 市民服务热线, G12) end to end: a call-taker files for a caller (the phone
encrypted, matched to a resident, never shown to departments), time limits per category and
urgency on the business calendar, routing, 退单 once, reply before close, the caller's
verdict (不满意 reopens once), the office's monthly figures."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.fields import CST
from scenarios.engines.workflow.models import SlaPolicy, Ticket
from scenarios.hotline_12345.models import HotlineCaller
from tests.support.factories import make_resident, mobile
from tests.support.reports import DISTRICT, SHANYANG, get, people, post
from tests.support.workflow import events, ticket_row

pytestmark = pytest.mark.usefixtures("ctx")

BASE = "/api/v1/hotline-12345"
HOTLINE = "310116-hotline"
WATER = "310116-bureau-water"
MARKET = "310116-bureau-market"
NEAR_SHANYANG = {"lat": 30.7612, "lon": 121.3551}
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=CST)  # a working Monday
FRIDAY_16 = datetime(2026, 12, 4, 16, 0, tzinfo=CST)


@pytest.fixture
def hl(app, session, clock):
    clock.set(MONDAY_10.astimezone(UTC))
    return people(session, clock, staff={
        "taker": (HOTLINE, "call_taker"), "taker2": (HOTLINE, "call_taker"), "hl_mgr": (HOTLINE, "manager"),
        "water": (WATER, "supervisor"), "water_staff": (WATER, "staff"), "market": (MARKET, "supervisor"),
        "shanyang": (SHANYANG, "admin"), "admin": (DISTRICT, "admin"),
    }, residents=["alice"])


def file(client, hl, who="taker", *, category="供水排水", urgency="normal", phone="13800001111",
         expect=201, **extra) -> dict:
    body = {"category": category, "text": "小区停水一天了，没有任何通知", "caller_phone": phone,
            "location": NEAR_SHANYANG, "urgency": urgency, **extra}
    return post(client, hl, who, f"{BASE}/tickets", body, expect=expect)


def act(client, hl, who, tid, action, body=None, expect=200) -> dict:
    return post(client, hl, who, f"{BASE}/tickets/{tid}/{action}", body, expect=expect)


def test_filed_by_a_call_taker_routed_by_category_and_the_phone_kept_encrypted(client, hl, session):
    resident = make_resident(session, name="来电人", phone=(phone := mobile()))
    session.commit()
    t = file(client, hl, phone=phone)
    assert t["org"]["code"] == WATER and t["priority"] == "normal"
    caller = session.get(HotlineCaller, t["id"])
    assert caller.phone == phone and caller.resident_account_id == resident.id
    raw = session.execute(sa.text("SELECT phone FROM hl_callers WHERE ticket_id = :i"), {"i": t["id"]}).scalar()
    assert phone not in raw  # encrypted at rest
    # the department's view never carries the phone; the office sees it masked
    seen = get(client, hl, "water", f"{BASE}/tickets/{t['id']}")
    assert phone not in str(seen) and phone[-4:] + "\"" not in str(seen)
    shown = get(client, hl, "taker2", f"{BASE}/tickets/{t['id']}/caller")
    assert shown == {"phone": phone[:3] + "****" + phone[-4:], "resident_matched": True}
    get(client, hl, "water", f"{BASE}/tickets/{t['id']}/caller", expect=403)
    get(client, hl, "market", f"{BASE}/tickets/{t['id']}/caller", expect=404)  # not visible at all


def test_bad_input_is_a_clear_4xx(client, hl):
    for body, field in (({"caller_phone": "12345"}, "caller_phone"), ({"urgency": "very"}, "urgency"),
                        ({"location": None, "address": None}, "location"),
                        ({"location": {"lat": 31.2, "lon": 121.5}}, "location")):
        r = file(client, hl, expect=422, **body)
        assert field in r["errors"], r
    assert file(client, hl, category="天气", expect=422)["code"] == "unknown_category"
    assert file(client, hl, "water", expect=403)["code"] == "forbidden"  # departments do not file


def test_time_limits_per_category_and_urgency_on_the_business_calendar(client, hl, session, clock):
    clock.set(FRIDAY_16.astimezone(UTC))
    normal = ticket_row(session, file(client, hl)["id"])
    # one working day from Friday 16:00: Monday 16:00 (the weekend does not count)
    assert normal.response_due_at.astimezone(CST) == datetime(2026, 12, 7, 16, 0, tzinfo=CST)
    assert normal.calendar == "business" and normal.resolution_minutes == 5 * 480
    urgent = ticket_row(session, file(client, hl, urgency="urgent")["id"])
    assert urgent.priority == "urgent"
    assert urgent.response_due_at.astimezone(CST) == datetime(2026, 12, 4, 18, 0, tzinfo=CST)
    keys = set(session.scalars(sa.select(SlaPolicy.category).where(SlaPolicy.scenario == "hotline-12345")))
    assert {"供水排水/normal", "供水排水/urgent"} <= keys
    # the limits are data: a change applies to the next order of that key only
    r = client.put("/api/v1/admin/sla-policies", headers=hl.token("admin"), json={
        "scenario": "hotline-12345", "category": "供水排水/urgent", "response_minutes": 60,
        "resolution_minutes": 600, "calendar": "24x7"})
    assert r.status_code == 200, r.get_json()
    again = ticket_row(session, file(client, hl, urgency="urgent")["id"])
    assert again.response_minutes == 60
    assert ticket_row(session, file(client, hl)["id"]).response_minutes == 480


def test_send_back_once_then_the_office_reroutes(client, hl, session):
    t = file(client, hl)
    back = act(client, hl, "water", t["id"], "send-back", {"reason": "不属于本单位职责"})
    assert back["id"] == t["id"]
    assert ticket_row(session, t["id"]).org_id == hl.orgs["taker"].id
    # the office re-routes to the right department; the trail names both moves
    moved = act(client, hl, "taker", t["id"], "transfer", {"org": MARKET})
    assert moved["org"]["code"] == MARKET
    act(client, hl, "market", t["id"], "send-back", {"reason": "也不是我们"})
    act(client, hl, "taker", t["id"], "transfer", {"org": WATER})
    r = act(client, hl, "water", t["id"], "send-back", {"reason": "再退"}, expect=409)
    assert r["code"] == "already_sent_back"
    actions = [e.action for e in events(session, t["id"])]
    assert actions.count("send_back") == 2 and actions.count("transfer") == 2
    # the office cannot send back to itself; a department that does not hold it cannot see it
    act(client, hl, "market", t["id"], "send-back", {"reason": "x"}, expect=404)


def test_reply_required_before_close_and_satisfaction(client, hl, session):
    t = file(client, hl)
    act(client, hl, "water", t["id"], "acknowledge")
    act(client, hl, "water", t["id"], "resolve", {"note": "已恢复供水"})
    assert act(client, hl, "taker", t["id"], "close", expect=409)["code"] == "reply_required"
    r = act(client, hl, "taker", t["id"], "satisfaction", {"result": "满意", "via": "call"}, expect=409)
    assert r["code"] == "reply_required"
    act(client, hl, "market", t["id"], "reply", {"content": "x", "channel": "phone"}, expect=404)
    done = act(client, hl, "water_staff", t["id"], "reply", {"content": "已电话告知恢复供水", "channel": "phone"})
    assert done["details"]["reply"]["channel"] == "phone"
    # departments do not record the caller's verdict
    act(client, hl, "water", t["id"], "satisfaction", {"result": "满意", "via": "call"}, expect=403)
    closed = act(client, hl, "taker", t["id"], "satisfaction", {"result": "基本满意", "via": "sms"})
    assert closed["status"] == "closed"
    r = act(client, hl, "taker", t["id"], "satisfaction", {"result": "满意", "via": "sms"}, expect=409)
    assert r["code"] == "satisfaction_recorded"


def test_unsatisfied_reopens_once(client, hl, session):
    t = file(client, hl)

    def handle():
        act(client, hl, "water", t["id"], "acknowledge")
        act(client, hl, "water", t["id"], "reply", {"content": "已处理", "channel": "phone"})
        act(client, hl, "water", t["id"], "resolve", {"note": "已处理"})

    handle()
    reopened = act(client, hl, "taker", t["id"], "satisfaction", {"result": "不满意", "via": "call"})
    assert reopened["status"] == "reopened" and reopened["org"]["code"] == WATER
    assert reopened["details"].get("reply") is None  # a new reply is needed
    row = ticket_row(session, t["id"])
    assert row.resolution_due_at is not None and row.reopen_count == 1
    handle()
    final = act(client, hl, "taker", t["id"], "satisfaction", {"result": "不满意", "via": "call"})
    assert final["status"] == "closed"  # the second 不满意 is recorded, not reopened again
    assert [v["result"] for v in final["details"]["satisfaction"]] == ["不满意", "不满意"]


def test_monthly_figures_per_department(client, hl, session, clock):
    a = file(client, hl)
    act(client, hl, "water", a["id"], "acknowledge")  # in time
    b = file(client, hl, category="市场消费")  # → 区市场监管局
    act(client, hl, "market", b["id"], "send-back", {"reason": "属于水务"})
    act(client, hl, "taker", b["id"], "transfer", {"org": WATER})
    clock.advance(days=3)  # past the working day: b is contacted late
    act(client, hl, "water", b["id"], "acknowledge")
    act(client, hl, "water", a["id"], "reply", {"content": "已处理", "channel": "phone"})
    act(client, hl, "water", a["id"], "resolve", {"note": "已处理"})
    act(client, hl, "taker", a["id"], "satisfaction", {"result": "满意", "via": "sms"})
    figs = get(client, hl, "hl_mgr", f"{BASE}/figures", month="2026-12")
    rows = {d["org"]: d for d in figs["departments"]}
    assert rows[WATER]["orders"] == 2 and rows[WATER]["contact_on_time_rate"] == 0.5
    assert rows[WATER]["resolution_on_time_rate"] == 0.5 and rows[WATER]["satisfaction"] == {"满意": 1}
    assert rows[MARKET]["sent_back"] == 1 and rows[MARKET]["orders"] == 0 and rows[WATER]["sent_back"] == 0
    assert get(client, hl, "hl_mgr", f"{BASE}/figures", month="2026-11")["departments"] == []
    get(client, hl, "water", f"{BASE}/figures", month="2026-12", expect=403)
    assert get(client, hl, "hl_mgr", f"{BASE}/figures", month="2026-13", expect=422)["errors"]["month"]


def test_demo_data_loads_twice_without_change(app, db, clock):
    from app.models import metadata
    from scenarios.hotline_12345.demo import load

    def counts(s):
        return {t.name: s.scalar(sa.select(sa.func.count()).select_from(t)) for t in metadata.sorted_tables}

    with app.app_context():
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            first = counts(s)
            rows = s.execute(sa.select(Ticket.status, Ticket.details).where(Ticket.scenario == "hotline-12345")).all()
        clock.advance(minutes=5)
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            assert counts(s) == first
    assert first["hl_callers"] == 5
    assert {"submitted", "acknowledged", "closed", "reopened"} <= {r.status for r in rows}
    assert any((r.details or {}).get("sent_back_by") for r in rows)


def test_key_rotation_reencrypts_the_callers_phone(client, hl, app, db, session):
    """``pii rotate`` pages hl_callers by its primary key (ticket_id: it has no ``id``)."""
    import base64
    import json

    from app import create_app
    from app.config import load_settings

    t = file(client, hl, phone="13800003333")
    settings = app.extensions["settings"]
    k3 = "k3:" + base64.urlsafe_b64encode(b"3" * 32).decode()
    rotated = create_app(load_settings({
        "APP_ENV": "test", "DATABASE_URL": settings.database_url,
        "DATA_ENCRYPTION_KEYS": f"{k3},{settings.data_encryption_keys}", "PASSWORD_HASH_PROFILE": "fast"}),
        database=db, clock=app.extensions["clock"])
    with rotated.app_context():
        result = rotated.test_cli_runner().invoke(args=["pii", "rotate", "--batch", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["reencrypted"]["hl_callers.phone"] >= 1
    raw = session.execute(sa.text("SELECT phone FROM hl_callers WHERE ticket_id = :i"), {"i": t["id"]}).scalar()
    assert raw.startswith("k3:")


def test_the_callers_orders_are_in_their_export_and_nobody_elses(client, hl, session, clock):
    from app.privacy.parts import Subject
    from scenarios.hotline_12345.personal_data import PERSONAL_DATA

    caller = make_resident(session, name="来电人", phone=(phone := mobile()))
    other = make_resident(session, name="旁人", phone=mobile())
    session.commit()
    t = file(client, hl, phone=phone)
    file(client, hl, phone="13900002222")  # a number no resident has
    mine = PERSONAL_DATA.collect(session, Subject(caller.person_id, (caller.id,), clock))["hotline_calls"]
    assert [(r["number"], r["caller_phone"]) for r in mine] == [(t["number"], phone)]
    assert PERSONAL_DATA.collect(session, Subject(other.person_id, (other.id,), clock)) == {"hotline_calls": []}


def test_the_answer_of_a_routed_filing_reads_no_organisation_twice(client, hl, session):
    """The routed owner (区水务局) is held by the filing's result: the answer's access check finds it
    in the session instead of reading it again by id (the session's identity map is weak)."""
    from tests.support.database import statements

    file(client, hl)  # the caller's token and caches warm
    with statements(session) as seen:
        t = file(client, hl)
    assert t["org"]["code"] == WATER
    by_id = [s for s in seen if "FROM organisations" in s and "organisations.id = " in " ".join(s.split())]
    assert len(by_id) <= 1, by_id  # at most the owner's parent, for the chain of reach
