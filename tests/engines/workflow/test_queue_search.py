"""The queue as property managers use it: search (``q``), orders (``sort``), priority (set by
the owner's staff with a reason, filtered on), and the export of a filtered list (CSV for
Excel, XLSX) with its cap; odd input is a 422 naming the field, never a 500."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.places.models import Building
from auth.contacts import StaffContact
from scenarios.engines.workflow import export
from scenarios.engines.workflow.numbers import BLOCK
from tests.engines.workflow.scenario import BASE
from tests.support.factories import make_resident
from tests.support.workflow import act, add_residence, events, get, report, ticket_row

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


@pytest.fixture
def three(client, wf, clock):
    """Three tickets of company A a minute apart — 1-302 漏水, 1-1201 电梯 "100%", 12-302 门 (dora) —
    and one of company B with alice's very text."""
    building = Building(community_id=wf.world.community.id, number="12", floors=18, rooms_per_floor=4)
    wf.session.add(building)
    wf.session.flush()
    wf.accounts["dora"] = make_resident(wf.session, name="测试dora", phone="13912345678")
    add_residence(wf.session, wf.accounts["dora"], wf.world.community, building="12", room="302")
    wf.session.commit()
    t1 = report(client, wf, "alice", text="厨房水管漏水")["id"]
    clock.advance(minutes=1)
    t2 = report(client, wf, "alice2", category="电梯", text="电梯停了 100% 不动")["id"]
    clock.advance(minutes=1)
    t3 = report(client, wf, "dora", category="门窗", text="单元门坏了")["id"]
    b = report(client, wf, "bob", text="厨房水管漏水")["id"]
    return t1, t2, t3, b


def ids(client, wf, who="manager_a", **params) -> list[int]:
    return [i["id"] for i in get(client, wf, who, "queue", **params)["items"]]


# ---------------------------------------------------------------- search


def test_search_by_number_room_building_and_text(client, wf, three):
    t1, t2, t3, _b = three
    number = ticket_row(wf.session, t3).number
    assert ids(client, wf, q=number) == [t3]
    assert ids(client, wf, q=number[:-BLOCK].lower()) == [t1, t2, t3]  # a prefix (the day), any case
    assert ids(client, wf, q=number[:-2]) == [t3]
    assert ids(client, wf, q="302") == [t1, t3]  # a room, exactly: not 1201, not a piece of a number
    assert ids(client, wf, q="1201") == [t2]
    assert ids(client, wf, q="12") == [t3]  # building 12 (no room "12")
    assert ids(client, wf, q="12号楼") == [t3]
    assert ids(client, wf, q="12-302") == [t3] and ids(client, wf, q="12号楼302室") == [t3]
    assert ids(client, wf, q="1-302") == [t1]
    assert ids(client, wf, q="漏水") == [t1]  # company B's ticket with the same text stays B's
    assert ids(client, wf, "manager_b", q="漏水") == [_b]
    assert ids(client, wf, q=" 电梯停了 ") == [t2]  # trimmed
    assert ids(client, wf, q="100%") == [t2]
    assert ids(client, wf, q="%") == [t2] and ids(client, wf, q="_") == []  # wildcards are literal
    assert ids(client, wf, q="不存在的内容") == []
    assert ids(client, wf, q="") == [t1, t2, t3]
    assert ids(client, wf, q="漏水", category="电梯") == []  # with the other filters
    body = get(client, wf, "manager_a", "queue", q="x" * 65, expect=422)
    assert body["code"] == "validation_error" and list(body["errors"]) == ["q"]


# ---------------------------------------------------------------- orders


def test_orders(client, wf, clock, three):
    t1, t2, t3, _ = three
    assert ids(client, wf) == ids(client, wf, sort="due") == [t1, t2, t3]
    assert ids(client, wf, sort="created") == [t1, t2, t3]
    assert ids(client, wf, sort="-created") == [t3, t2, t1]
    clock.advance(minutes=1)
    act(client, wf, "manager_a", t1, "acknowledge")  # t1's deadline moves to tomorrow
    clock.advance(minutes=1)
    act(client, wf, "manager_a", t2, "comments", {"text": "已联系电梯公司"})
    assert ids(client, wf) == [t2, t3, t1]
    assert ids(client, wf, sort="updated") == [t2, t1, t3]
    act(client, wf, "manager_a", t3, "priority", {"priority": "urgent", "reason": "门禁失灵，全楼出入"})
    act(client, wf, "manager_a", t1, "priority", {"priority": "high", "reason": "楼下渗水"})
    assert ids(client, wf, sort="priority") == [t3, t1, t2]  # urgent, high, then normal
    page = get(client, wf, "manager_a", "queue", sort="-created", page_size=2, page=2)
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == [t1]
    for bad in ("deadline", "-due", "", "priority;drop"):
        body = get(client, wf, "manager_a", "queue", sort=bad, expect=422)
        assert body["code"] == "validation_error" and list(body["errors"]) == ["sort"]


# ---------------------------------------------------------------- priority


def test_priority_set_by_the_owners_staff_with_a_reason(client, wf, three):
    t1, t2, _t3, _ = three
    body = act(client, wf, "tech_a", t1, "priority", {"priority": "high", "reason": "楼下渗水"})
    assert body["priority"] == "high" and "priority" in body["allowed_actions"]
    event = body["events"][-1]
    assert (event["action"], event["note"], event["data"], event["internal"]) == (
        "priority", "楼下渗水", {"from": "normal", "to": "high"}, True)
    mine = get(client, wf, "alice", f"tickets/{t1}")
    assert mine["priority"] == "high" and "楼下渗水" not in str(mine)  # the reason is for staff
    assert "priority" not in mine["allowed_actions"]
    act(client, wf, "manager_a", t2, "priority", {"priority": "urgent", "reason": "困人"})
    assert ids(client, wf, priority="high") == [t1]
    assert ids(client, wf, priority=["high", "urgent"]) == [t1, t2]
    assert ids(client, wf, priority="low") == []
    # The same priority again: nothing happens.
    before = len(events(wf.session, t1))
    act(client, wf, "manager_a", t1, "priority", {"priority": "high", "reason": "再确认"})
    assert len(events(wf.session, t1)) == before


def test_priority_refusals(client, wf, three):
    t1, *_ = three
    for body, field in (({"priority": "critical", "reason": "x"}, "priority"), ({"priority": "high"}, "reason"),
                        ({"priority": "high", "reason": "   "}, "reason"), ({"reason": "x"}, "priority"),
                        ({"priority": ["high"], "reason": "x"}, "priority")):
        answer = act(client, wf, "manager_a", t1, "priority", body, expect=422)
        assert answer["code"] == "validation_error" and list(answer["errors"]) == [field], body
    assert list(get(client, wf, "manager_a", "queue", priority="critical", expect=422)["errors"]) == ["priority.0"]
    good = {"priority": "urgent", "reason": "困人"}
    assert act(client, wf, "manager_b", t1, "priority", good, expect=404)["code"] == "not_found"
    assert act(client, wf, "bob", t1, "priority", good, expect=404)["code"] == "not_found"
    assert act(client, wf, "alice", t1, "priority", good, expect=403)["code"] == "forbidden"
    assert act(client, wf, "supervisor", t1, "priority", good, expect=403)["code"] == "forbidden"
    version = ticket_row(wf.session, t1).version
    act(client, wf, "manager_a", t1, "priority", good, headers={"If-Match": f'"{version - 1}"'}, expect=412)
    assert ticket_row(wf.session, t1).priority == "normal"
    act(client, wf, "manager_a", t1, "reject", {"reason": "非物业范围"})
    assert act(client, wf, "manager_a", t1, "priority", good, expect=409)["code"] == "invalid_transition"


# ---------------------------------------------------------------- export


def _csv(resp) -> list[list[str]]:
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _export(client, wf, who="manager_a", *, expect=200, **params):
    resp = client.get(f"{BASE}/queue/export", headers=wf.token(who), query_string=params)
    assert resp.status_code == expect, resp.get_data(as_text=True)[:500]
    return resp


def test_export_csv_is_the_filtered_queue_without_personal_data(client, wf, clock, three):
    t1, t2, t3, _ = three
    contact = StaffContact(account_id=wf.id("tech_a"), display_name='=CMD|"/C calc"!A0',
                           updated_at=clock.now())
    contact.set_mobile("13800138000")
    wf.session.add(contact)
    wf.session.commit()
    act(client, wf, "manager_a", t1, "assign", {"assignee_account_id": wf.id("tech_a")})
    clock.advance(minutes=40)  # t2 and t3 overdue
    resp = _export(client, wf, format="csv")
    assert resp.headers["Content-Type"].startswith("text/csv") and "charset=utf-8" in resp.headers["Content-Type"]
    assert resp.headers["Content-Disposition"] == 'attachment; filename="wf-test-queue-20261102-0942.csv"'
    rows = _csv(resp)
    assert rows[0] == ["工单号", "状态", "类别", "优先级", "小区", "楼栋", "房号", "报修时间", "截止时间", "是否超时",
                       "处理人", "督办级别", "预约上门时间"]
    numbers = {ticket_row(wf.session, t).number: t for t in (t1, t2, t3)}
    assert [numbers[r[0]] for r in rows[1:]] == ids(client, wf) == [t2, t3, t1]
    by_id = {numbers[r[0]]: r for r in rows[1:]}
    assert by_id[t1][1:4] == ["已派单", "水电", "普通"] and by_id[t1][4:7] == ["测试小区", "1", "302"]
    assert by_id[t1][7] == "2026-11-02 09:00" and by_id[t1][9] == "否"
    assert by_id[t1][10] == "'=CMD|\"/C calc\"!A0"  # never a formula
    assert by_id[t2][9] == "是" and by_id[t2][10] == "" and by_id[t2][11] == "0"
    text = resp.get_data().decode("utf-8-sig")
    for personal in ("测试alice", "测试dora", "13912345678", "139****5678", "漏水", "13800138000"):
        assert personal not in text
    # The queue's filters and order, no pages.
    only = _csv(_export(client, wf, format="csv", category="电梯"))
    assert [numbers[r[0]] for r in only[1:]] == [t2]
    newest = _csv(_export(client, wf, format="csv", sort="-created", q="302"))
    assert [numbers[r[0]] for r in newest[1:]] == [t3, t1]
    assert len(_csv(_export(client, wf))) == 4  # csv by default
    assert len(_csv(_export(client, wf, "manager_b"))) == 2  # company B: its one ticket


def test_export_xlsx(client, wf, clock, three):
    from openpyxl import load_workbook

    _, t2, _, _ = three
    wf.session.add(StaffContact(account_id=wf.id("tech_a"), display_name="=1+1", updated_at=clock.now()))
    wf.session.commit()
    act(client, wf, "manager_a", t2, "assign", {"assignee_account_id": wf.id("tech_a"),
                                                 "appointment_at": "2026-11-02T14:00:00+08:00"})
    resp = _export(client, wf, format="xlsx")
    assert resp.headers["Content-Type"] == export.CONTENT_TYPES["xlsx"]
    assert resp.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(resp.get_data())).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "工单号" and len(rows) == 4 and sheet.title == "工单引擎测试"
    assigned = next(r for r in rows[1:] if r[0] == ticket_row(wf.session, t2).number)
    assert assigned[1] == "已派单" and assigned[10] == "=1+1"
    name_cell = next(row[10] for row in sheet.iter_rows(min_row=2) if row[10].value)
    assert name_cell.data_type == "s"  # text, never a formula
    assert assigned[7].strftime("%Y-%m-%d %H:%M") == "2026-11-02 09:01"  # Beijing time
    assert assigned[12].strftime("%Y-%m-%d %H:%M") == "2026-11-02 14:00"
    assert all(isinstance(c.value, str) or c.value is None for c in next(sheet.iter_rows(min_row=2))[:7])


def test_export_refusals_and_its_cap(client, wf, monkeypatch, three):
    for params, field in (({"format": "pdf"}, "format"), ({"format": "CSV"}, "format"), ({"sort": "x"}, "sort"),
                          ({"q": "x" * 65}, "q"), ({"page": 1}, "page"), ({"priority": "critical"}, "priority")):
        body = _export(client, wf, expect=422, **params).get_json()
        assert body["code"] == "validation_error" and [k.split(".")[0] for k in body["errors"]] == [field], params
    monkeypatch.setattr(export, "MAX_ROWS", 3)
    assert len(_csv(_export(client, wf))) == 4  # exactly the cap: all of them
    monkeypatch.setattr(export, "MAX_ROWS", 2)
    body = _export(client, wf, expect=422).get_json()
    assert body["code"] == "export_too_large" and body["limit"] == 2
    assert len(_csv(_export(client, wf, category="电梯"))) == 2  # narrowed: fine again
    assert _export(client, wf, "alice", expect=403).get_json()["code"] == "forbidden"
    assert client.get(f"{BASE}/queue/export").status_code == 401


def test_queue_reads_the_organisations_tickets_through_an_index(client, wf, db, three):
    """On PostgreSQL, with 30,000 tickets over 30 organisations (analysed), every query of the queue
    starts from an index on the organisation; by deadline, with or without a priority filter, it
    reads in index order (no sort): a page costs the same with 50 or 50,000 open tickets."""
    if db.dialect != "postgresql":
        pytest.skip("query plans are PostgreSQL's")
    from app.clock import FrozenClock
    from auth.principal import Principal
    from scenarios.engines.workflow import service as svc
    from scenarios.engines.workflow.models import Ticket
    from scenarios.engines.workflow.presenters import summary_rows
    from tests.engines.workflow.scenario import CONFIG

    t1, *_ = three
    session = wf.session
    org = wf.world.companies[0]
    columns = [c.name for c in Ticket.__table__.columns if c.name not in ("id", "number")]
    varied = {
        "org_id": f"CASE WHEN g % 30 = 0 THEN {org.id} ELSE (SELECT array_agg(id) FROM organisations)[1 + g % 29] END",
        "is_open": "g % 5 <> 0", "due_at": "due_at + make_interval(secs => g)",
        "created_at": "created_at + make_interval(secs => g)", "updated_at": "updated_at + make_interval(secs => g)",
        "priority": "(ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[1 + g % 5]",
        "room": "(100 + g % 900)::text", "text": "text || g::text",
    }
    session.execute(sa.text(
        f"INSERT INTO wf_tickets (number, {', '.join(columns)}) SELECT 'PLAN' || g, "
        f"{', '.join(varied.get(c, c) for c in columns)} FROM wf_tickets, generate_series(1, 30000) g "
        "WHERE wf_tickets.id = :t"), {"t": t1})
    session.execute(sa.text("ANALYZE wf_tickets"))
    manager = Principal("staff", account_id=wf.id("manager_a"), org_id=org.id, org_code=org.code,
                        org_type=org.type, role="manager")
    clock = FrozenClock(wf.clock.now() + timedelta(minutes=1))

    def plan(**params) -> str:
        stmt = summary_rows(svc.queue(session, clock=clock, principal=manager, config=CONFIG, **params)).limit(20)
        compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
        return "\n".join(r[0] for r in session.connection().exec_driver_sql("EXPLAIN " + str(compiled),
                                                                              compiled.params))

    for params in ({}, {"priority": ["urgent"]}, {"priority": ["high", "urgent"]}, {"q": "302"},
                   {"sort": "priority"}, {"sort": "created"}, {"sort": "-created"}, {"sort": "updated"},
                   {"q": "12-302", "sort": "updated"}, {"status": ["resolved"]}):
        found = plan(**params)
        assert re.search(rf"Index Cond: \(+org_id = '{org.id}'::bigint\)", found), (params, found)
    for params in ({}, {"priority": ["urgent"]}, {"q": "漏水"}):
        found = plan(**params)
        assert "Sort" not in found and ("ix_wf_tickets_queue" in found or "ix_wf_tickets_priority_queue" in found), (
            params, found)
