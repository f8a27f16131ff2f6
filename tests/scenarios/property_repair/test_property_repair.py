"""property-repair (L19) end to end through the API: report, respond, assign, resolve, confirm,
rate; who may report where and who owns the ticket; the bad input of the issue; notifications."""
from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.places.models import ManagementAssignment
from scenarios.engines.workflow.models import Ticket
from scenarios.registry import SCENARIOS, by_slug
from tests.support import workflow
from tests.support.workflow import add_residence, events, outbox, ticket_row

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

BASE = "/api/v1/property-repair"


def report(client, wf, who: str = "alice", **kw):
    return workflow.report(client, wf, who, base=BASE, **kw)


def act(client, wf, who: str, ticket_id: int, action: str, body=None, **kw):
    return workflow.act(client, wf, who, ticket_id, action, body, base=BASE, **kw)


def get(client, wf, who: str, path: str, **kw):
    return workflow.get(client, wf, who, path, base=BASE, **kw)



def test_registered_with_the_workflow_engine(client):
    scenario = by_slug("property-repair")
    assert scenario in SCENARIOS and scenario.engines == ("workflow",) and scenario.seed_refs == ("L19",)
    listed = client.get("/api/v1/scenarios").get_json()
    assert any(s["slug"] == "property-repair" for s in (listed["items"] if isinstance(listed, dict) else listed))


def test_full_flow_report_to_rating(client, wf, clock):
    body = report(client, wf, category="水电", text="厨房水管漏水", details={"public_area": False})
    tid = body["id"]
    assert body["status"] == "submitted" and body["number"].startswith("BX20261102")
    assert body["org"]["code"] == wf.world.companies[0].code
    assert body["location"]["community_code"] == wf.world.community.code and body["location"]["room"] == "302"
    assert body["sla"]["response_minutes"] == 30 and body["sla"]["calendar"] == "24x7"
    assert body["sla"]["response_due_at"] == "2026-11-02T09:30:00+08:00"
    assert body["possible_duplicates"] == []
    assert body["allowed_actions"] == ["comment"]
    assert [e["action"] for e in body["events"]] == ["create"]

    clock.advance(minutes=10)
    acked = act(client, wf, "manager_a", tid, "acknowledge")
    assert acked["status"] == "acknowledged" and acked["sla"]["first_response_at"] == "2026-11-02T09:10:00+08:00"
    assert acked["events"][-1]["data"] == {"late": False}
    assert acked["sla"]["response_breached"] is False
    act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a")})
    act(client, wf, "tech_a", tid, "start")
    clock.advance(hours=2)
    resolved = act(client, wf, "tech_a", tid, "resolve", {"note": "更换了水管接头"})
    assert resolved["status"] == "resolved" and resolved["resolved_at"] == "2026-11-02T11:10:00+08:00"
    mine = get(client, wf, "alice", f"tickets/{tid}")
    assert set(mine["allowed_actions"]) == {"confirm", "reopen", "comment", "rate"}
    assert mine["reporter"] is None  # residents never see the personal-data block
    act(client, wf, "alice", tid, "confirm")
    rated = act(client, wf, "alice", tid, "rating", {"rating": 5, "comment": "很及时"})
    assert (rated["status"], rated["rating"], rated["rating_comment"]) == ("closed", 5, "很及时")
    assert [e["action"] for e in rated["events"]] == [
        "create", "acknowledge", "assign", "start", "resolve", "confirm", "rate"]
    staff_view = get(client, wf, "manager_a", f"tickets/{tid}")
    assert staff_view["reporter"]["name"].endswith("*") and "****" in staff_view["reporter"]["phone"]

    # Notifications: the company's manager on the new ticket; the resident on ack, assignment,
    # resolution; the assignee on assignment.
    alice, tech, manager = str(wf.id("alice")), str(wf.id("tech_a")), str(wf.id("manager_a"))
    sent = outbox(wf.session, tid)
    assert ("ticket_received", "account", manager) in sent
    assert ("ticket_acknowledged", "account", alice) in sent
    assert ("ticket_assigned", "account", alice) in sent and ("ticket_assigned", "account", tech) in sent
    assert ("ticket_resolved", "account", alice) in sent
    # Real channels, not log lines: staff by WeCom (a new repair is urgent: SMS when WeCom fails),
    # residents by WeChat subscription messages.
    rows = {(m.template, m.recipient_id): m for m in wf.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.event_key.like(f"wf:{tid}:%")))}
    assert (rows["ticket_received", manager].channel, rows["ticket_received", manager].urgent) == ("wecom", True)
    assert rows["ticket_assigned", tech].channel == "wecom" and not rows["ticket_assigned", tech].urgent
    assert {rows[t, alice].channel for t in ("ticket_acknowledged", "ticket_resolved")} == {"wechat"}
    assert not any(r[2] == str(wf.id("manager_b")) for r in sent)


def test_owner_is_the_company_managing_on_the_report_date_else_the_housing_office(client, wf, clock):
    s = wf.session
    w = wf.world
    # Company A's assignment ends today; company B takes over from today.
    row = s.scalar(sa.select(ManagementAssignment).where(ManagementAssignment.community_id == w.community.id))
    row.valid_to = date(2026, 11, 2)
    s.add(ManagementAssignment(community_id=w.community.id, company_id=w.companies[1].id,
                               valid_from=date(2026, 11, 2)))
    add_residence(s, wf.accounts["carol"], w.unmanaged, room="501")
    s.commit()
    assert report(client, wf, "alice")["org"]["code"] == w.companies[1].code
    assert report(client, wf, "carol")["org"]["code"] == w.housing_office.code


# ---------------------------------------------------------------- bad input and faults


def test_no_verified_residence_is_403_no_residence(client, wf):
    body = report(client, wf, "carol", expect=403)
    assert body["code"] == "no_residence"
    # A claimed (unverified) or ended residence does not count either.
    add_residence(wf.session, wf.accounts["carol"], wf.world.community, status="claimed")
    add_residence(wf.session, wf.accounts["carol"], wf.world.community, room="402",
                  valid_to=date(2026, 1, 1))
    wf.session.commit()
    assert report(client, wf, "carol", expect=403)["code"] == "no_residence"
    # alice lives in community A, not B.
    body = report(client, wf, "alice", community_code=wf.world.community2.code, expect=403)
    assert body["code"] == "no_residence" and "community_code" in body["errors"]
    assert report(client, wf, "alice", community_code="no-such", expect=422)["errors"]["community_code"]
    assert report(client, wf, "alice", residence_id=wf.residences["bob"].id, expect=403)["code"] == "no_residence"
    assert wf.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0


def test_several_residences_need_a_choice(client, wf):
    second = add_residence(wf.session, wf.accounts["alice"], wf.world.community2, room="801")
    wf.session.commit()
    body = report(client, wf, "alice", expect=422)
    assert body["code"] == "validation_error" and "residence_id" in body["errors"]
    assert report(client, wf, "alice", residence_id=second.id)["org"]["code"] == wf.world.companies[1].code
    assert report(client, wf, "alice", community_code=wf.world.community.code)["location"]["room"] == "302"


def test_unknown_category_and_text_too_long(client, wf):
    body = report(client, wf, category="装修", expect=422)
    assert body["code"] == "unknown_category" and "装修" in body["errors"]["category"][0]
    body = report(client, wf, text="漏" * 501, expect=422)
    assert body["code"] == "text_too_long" and "500" in body["errors"]["text"][0]
    assert report(client, wf, text="漏" * 500)["status"] == "submitted"
    body = report(client, wf, text="", expect=422)
    assert body["code"] == "validation_error" and "text" in body["errors"]
    body = report(client, wf, details={"public_area": "maybe"}, expect=422)
    assert "details.public_area" in body["errors"]
    body = report(client, wf, nonsense=1, expect=422)
    assert "nonsense" in body["errors"]


def test_someone_elses_upload_is_refused(client, wf, session):
    from app.storage.models import Upload

    def upload(owner: str, public_id: str) -> None:
        session.add(Upload(public_id=public_id, owner_account_id=wf.id(owner), sha256="a" * 64,
                           content_type="image/jpeg", width=10, height=10, bytes=100, thumb_sha256="b" * 64,
                           thumb_content_type="image/jpeg", created_at=wf.clock.now()))
    upload("alice", "alice-photo-000000001")
    upload("bob", "bob-photo-0000000001")
    session.commit()
    body = report(client, wf, photos=["bob-photo-0000000001"], expect=422)
    assert body["code"] == "validation_error" and "photos" in body["errors"]
    ok = report(client, wf, photos=["alice-photo-000000001"])
    assert [p["id"] for p in ok["photos"]] == ["alice-photo-000000001"]
    assert ok["photos"][0]["url"].startswith("/api/v1/uploads/alice-photo-000000001/content?")
    assert report(client, wf, photos=[f"p{i}" for i in range(10)], expect=422)["errors"]["photos"]


def test_wrong_state_is_409_naming_the_current_state(client, wf):
    tid = report(client, wf)["id"]
    body = act(client, wf, "manager_a", tid, "start", expect=409)
    assert body["code"] == "invalid_transition" and body["current_status"] == "submitted"
    act(client, wf, "manager_a", tid, "acknowledge")
    body = act(client, wf, "manager_a", tid, "acknowledge", expect=409)
    assert body["current_status"] == "acknowledged"
    assert act(client, wf, "alice", tid, "confirm", expect=409)["current_status"] == "acknowledged"


def test_rating_twice_is_409_already_rated(client, wf):
    tid = report(client, wf)["id"]
    assert act(client, wf, "alice", tid, "rating", {"rating": 4}, expect=409)["code"] == "invalid_transition"
    act(client, wf, "manager_a", tid, "resolve", {"note": "已修好"})
    act(client, wf, "alice", tid, "rating", {"rating": 4})
    body = act(client, wf, "alice", tid, "rating", {"rating": 1}, expect=409)
    assert body["code"] == "already_rated" and ticket_row(wf.session, tid).rating == 4
    assert act(client, wf, "alice", tid, "rating", {"rating": 6}, expect=422)["errors"]["rating"]


def test_reopen_within_seven_days_only(client, wf, clock):
    tid = report(client, wf)["id"]
    act(client, wf, "manager_a", tid, "resolve", {"note": "已修好"})
    clock.advance(days=6, hours=23)
    reopened = act(client, wf, "alice", tid, "reopen", {"reason": "又漏了"})
    assert reopened["status"] == "reopened" and reopened["reopen_count"] == 1
    assert reopened["sla"]["response_due_at"] == "2026-11-09T08:30:00+08:00"  # a new response clock
    act(client, wf, "manager_a", tid, "resolve", {"note": "彻底修好"})
    act(client, wf, "alice", tid, "confirm")
    clock.advance(days=7, seconds=1)
    body = act(client, wf, "alice", tid, "reopen", {"reason": "还是漏"}, expect=409)
    assert body["code"] == "reopen_window_passed"


def test_assign_only_to_a_technician_of_the_same_company(client, wf):
    tid = report(client, wf)["id"]
    for other in ("tech_b", "manager_a", "alice"):
        body = act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id(other)}, expect=422)
        assert body["code"] == "assignee_not_in_org" and "assignee_account_id" in body["errors"]
    assert ticket_row(wf.session, tid).status == "submitted"
    # Only managers assign; a technician may not.
    assert act(client, wf, "tech_a", tid, "assign", {"assignee_account_id": wf.id("tech_a")},
               expect=403)["code"] == "forbidden"
    assigned = act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a2")})
    assert assigned["assignee_account_id"] == wf.id("tech_a2") and assigned["sla"]["first_response_at"]
    listed = get(client, wf, "manager_a", "assignees")["items"]
    assert {i["account_id"] for i in listed} == {wf.id("tech_a"), wf.id("tech_a2")}


BUILDING_HINT = {"scope": "building", "message": "您所在楼栋已有类似的报告正在处理中，无需重复提交。"}


def test_duplicate_hints_and_marking(client, wf):
    first = report(client, wf, "alice", category="电梯", text="3号电梯不动了")
    assert first["similar_report"] is None and first["possible_duplicates"] == []
    second = report(client, wf, "alice2", category="电梯", text="电梯坏了")
    # Another resident's open report: said to exist, nothing that identifies it or counts them.
    assert second["similar_report"] == BUILDING_HINT and second["possible_duplicates"] == []
    assert str(first["id"]) not in str(second["similar_report"])
    assert first["number"] not in str(second)
    other_category = report(client, wf, "alice2", category="门窗", text="单元门关不上")
    assert other_category["similar_report"] is None
    other_building = report(client, wf, "bob", category="电梯", text="电梯异响")
    assert other_building["similar_report"] is None
    # The caller's own open report gets the same hint, no more (alice2 has one of each category now).
    again = report(client, wf, "alice2", category="门窗", text="单元门还是关不上")
    assert again["similar_report"] == BUILDING_HINT and other_category["number"] not in str(again)

    marked = act(client, wf, "manager_a", second["id"], "duplicate", {"duplicate_of": first["id"]})
    assert marked["status"] == "duplicate" and marked["duplicate_of"]["id"] == first["id"]
    assert [e.action for e in events(wf.session, first["id"])][-1] == "duplicate_linked"
    # Neither reporter learns the other's ticket: no link, no id or number in the trails they read.
    theirs = get(client, wf, "alice2", f"tickets/{second['id']}")
    assert theirs["status"] == "duplicate" and theirs["duplicate_of"] is None
    original = get(client, wf, "alice", f"tickets/{first['id']}")
    for body, other in ((theirs, first), (original, second)):
        assert not any({"ticket_id", "duplicate_of"} & set(e["data"]) for e in body["events"])
        assert other["number"] not in str(body)
    staff_trail = get(client, wf, "manager_a", f"tickets/{first['id']}")["events"]
    assert staff_trail[-1]["data"] == {"ticket_id": second["id"], "number": second["number"]}
    # A ticket of another company cannot be the original.
    third = report(client, wf, "alice2", category="电梯", text="电梯又坏了")
    assert third["similar_report"] == BUILDING_HINT
    body = act(client, wf, "manager_a", third["id"], "duplicate", {"duplicate_of": other_building["id"]}, expect=422)
    assert "duplicate_of" in body["errors"]
    assert ("ticket_duplicate", "account", str(wf.id("alice2"))) in outbox(wf.session, second["id"])


def test_reject_needs_a_reason_and_tells_the_reporter(client, wf):
    tid = report(client, wf)["id"]
    assert act(client, wf, "manager_a", tid, "reject", {}, expect=422)["errors"]["reason"]
    rejected = act(client, wf, "manager_a", tid, "reject", {"reason": "不属于物业维修范围"})
    assert rejected["status"] == "rejected" and rejected["events"][-1]["note"] == "不属于物业维修范围"
    assert outbox(wf.session, tid, "ticket_rejected") == [("ticket_rejected", "account", str(wf.id("alice")))]
    assert act(client, wf, "alice", tid, "comments", {"text": "为什么"}, expect=409)["current_status"] == "rejected"


def test_if_match_and_etag(client, wf):
    created = client.post(f"{BASE}/tickets", json={"category": "水电", "text": "漏水"}, headers=wf.token("alice"))
    tid, etag = created.get_json()["id"], created.headers["ETag"]
    assert etag == '"1"'
    body = act(client, wf, "manager_a", tid, "acknowledge", headers={"If-Match": '"7"'}, expect=412)
    assert body["code"] == "precondition_failed" and body["current_version"] == 1
    resp = client.post(f"{BASE}/tickets/{tid}/acknowledge", json={},
                       headers={**wf.token("manager_a"), "If-Match": etag})
    assert resp.status_code == 200 and resp.headers["ETag"] == '"2"'
    assert act(client, wf, "manager_a", tid, "start", headers={"If-Match": "garbage"}, expect=412)


def test_create_is_idempotent(client, wf):
    key = {"Idempotency-Key": "repair-key-0001"}
    first = report(client, wf, headers=key)
    resp = client.post(f"{BASE}/tickets", json={"category": "水电", "text": "厨房水管漏水"},
                       headers={**wf.token("alice"), **key})
    assert resp.status_code == 201 and resp.headers["Idempotent-Replayed"] == "true", resp.get_json()
    assert resp.get_json()["id"] == first["id"]
    assert wf.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1


def test_comments_and_photos_from_the_reporter_answer_a_question(client, wf, clock):
    tid = report(client, wf)["id"]
    act(client, wf, "manager_a", tid, "acknowledge")
    waiting = act(client, wf, "tech_a", tid, "request-info", {"note": "请问什么时间方便上门？"})
    assert waiting["status"] == "awaiting_reporter" and waiting["sla"]["paused_at"]
    clock.advance(hours=3)
    answered = act(client, wf, "alice", tid, "comments", {"text": "明天上午"})
    assert answered["status"] == "acknowledged" and answered["sla"]["paused_at"] is None
    assert answered["events"][-1]["action"] == "provide_info"
    # The resolution clock lost the three paused hours: due 24 h after the report, plus 3 h.
    assert answered["sla"]["resolution_due_at"] == "2026-11-03T12:00:00+08:00"
    assert act(client, wf, "alice", tid, "comments", {}, expect=422)["code"] == "validation_error"
    staff = act(client, wf, "tech_a", tid, "comments", {"text": "好的"})
    assert staff["events"][-1]["actor_kind"] == "staff"


def test_resident_lists_and_reads_only_their_own(client, wf):
    mine = report(client, wf, "alice")
    report(client, wf, "bob")
    page = get(client, wf, "alice", "tickets")
    assert [t["id"] for t in page["items"]] == [mine["id"]] and page["total"] == 1
    assert get(client, wf, "alice2", f"tickets/{mine['id']}", expect=404)["code"] == "not_found"
    assert act(client, wf, "alice2", mine["id"], "comments", {"text": "我也是"}, expect=404)
    assert act(client, wf, "alice", mine["id"], "acknowledge", expect=403)["code"] == "forbidden"


@pytest.mark.parametrize("who,expect", [("manager_a", 200), ("tech_a", 200), ("supervisor", 200),
                                        ("admin", 200), ("manager_b", 404), ("tech_b", 404),
                                        ("housing_manager", 404)])
def test_visibility_across_companies_and_supervisors(client, wf, who, expect):
    tid = report(client, wf, "alice")["id"]
    get(client, wf, who, f"tickets/{tid}", expect=expect)
    acting = {"manager_a": 200, "tech_a": 200}.get(who, 403 if expect == 200 else 404)
    act(client, wf, who, tid, "acknowledge", expect=acting)


def test_staff_of_the_housing_office_work_unmanaged_estates(client, wf):
    add_residence(wf.session, wf.accounts["carol"], wf.world.unmanaged, room="501")
    wf.session.commit()
    tid = report(client, wf, "carol")["id"]
    assert outbox(wf.session, tid, "ticket_received") == [
        ("ticket_received", "account", str(wf.id("housing_manager")))]
    assert act(client, wf, "housing_manager", tid, "acknowledge")["status"] == "acknowledged"


def test_demo_data_loads_twice_without_change(app, db, clock):
    from scenarios.property_repair.demo import load

    def counts(session):
        from app.models import metadata

        return {t.name: session.scalar(sa.select(sa.func.count()).select_from(t)) for t in metadata.sorted_tables}

    with db.transaction() as s:
        load(s, clock)
    with db.transaction() as s:
        first = counts(s)
        statuses = dict(s.execute(sa.select(Ticket.status, sa.func.count()).group_by(Ticket.status)).all())
        escalated = s.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.escalation_level == 2))
        rated = s.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.rating.is_not(None)))
        orgs = s.scalar(sa.select(sa.func.count(sa.distinct(Ticket.org_id))))
    clock.advance(minutes=5)
    with db.transaction() as s:
        load(s, clock)
    with db.transaction() as s:
        assert counts(s) == first
    assert {"submitted", "acknowledged", "assigned", "in_progress", "resolved", "closed"} <= set(statuses)
    assert escalated >= 1 and rated >= 2 and orgs >= 3


def test_the_answer_of_create_is_the_ticket_as_read_back(client, wf, session):
    """The 201 is built from what create has in hand (no re-read): it must be what a GET gives,
    with photos, a duplicate hint, the owner's names and the place, for the reporter."""
    from app.storage.models import Upload

    for public_id in ("alice-photo-000000002", "alice-photo-000000003"):
        session.add(Upload(public_id=public_id, owner_account_id=wf.id("alice"), sha256="a" * 64,
                           content_type="image/jpeg", width=10, height=10, bytes=100, thumb_sha256="b" * 64,
                           thumb_content_type="image/jpeg", created_at=wf.clock.now()))
    session.commit()
    first = report(client, wf, "alice")
    created = report(client, wf, "alice2", details={"public_area": True},
                     photos=["alice-photo-000000003", "alice-photo-000000002"], expect=422)
    assert created["code"] == "validation_error"  # alice2 may not attach alice's photos
    created = report(client, wf, "alice", photos=["alice-photo-000000003", "alice-photo-000000002"])
    assert created["similar_report"]["scope"] == "building" and created["possible_duplicates"] == []
    assert [p["id"] for p in created["photos"]] == ["alice-photo-000000003", "alice-photo-000000002"]
    read = get(client, wf, "alice", f"tickets/{created['id']}")
    assert {k: v for k, v in created.items() if k not in ("possible_duplicates", "similar_report")} == read
    others = [("alice", first), ("bob", report(client, wf, "bob")),
              ("alice2", report(client, wf, "alice2", residence_id=wf.residences["alice2"].id))]
    for who, answer in others:
        assert {k: v for k, v in answer.items() if k not in ("possible_duplicates", "similar_report")} == get(
            client, wf, who, f"tickets/{answer['id']}")


def test_the_number_is_the_day_and_a_random_block(client, wf, session):
    """The number says the day (China time) but not how many tickets came before (issue 13)."""
    first, second = report(client, wf), report(client, wf)
    for body in (first, second):
        assert re.fullmatch(r"BX20261102[0-9A-HJKMNP-TV-Z]{8}", body["number"]), body["number"]
        assert f"{body['id']:06d}" not in body["number"]
        assert ticket_row(session, body["id"]).number == body["number"]
    assert first["number"] != second["number"]
